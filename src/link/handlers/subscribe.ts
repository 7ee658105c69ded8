// SUBSCRIBE and UNSUBSCRIBE. The router decides each filter; this file turns
// its results into SUBACK/UNSUBACK codes for the client's version and, after
// the SUBACK is written, lets the router send the retained messages it owes.
// Who calls it: dispatch.ts.

import {
  ProtocolError,
  ReasonCode,
  SubackFailureV3,
  type SubscribePacket,
  type UnsubscribePacket,
} from "../../protocol/index.ts";
import type { Qos, SubscribeRequest } from "../../router/index.ts";
import type { LinkContext } from "../context.ts";

const SHARED_PREFIX = "$share/";

export async function handleSubscribe(link: LinkContext, packet: SubscribePacket): Promise<void> {
  const v5 = link.version === 5;
  // [MQTT-2.3.1-1] SUBSCRIBE and UNSUBSCRIBE carry a non-zero packet identifier.
  if (!packet.packetId) throw new ProtocolError("ProtocolError", "packet id 0");
  // [MQTT-3.8.3-3] At least one filter.
  if (packet.subscriptions.length === 0) {
    throw new ProtocolError("ProtocolError", "SUBSCRIBE without a filter");
  }
  if (v5 && packet.properties?.subscriptionIdentifier !== undefined) {
    // CONNACK said subscription identifiers are not available (spec 3.8.2.1.2: DISCONNECT 0xA1).
    throw new ProtocolError("SubscriptionIdentifiersNotSupported", "subscription identifier");
  }
  const granted: number[] = new Array(packet.subscriptions.length);
  const requests: SubscribeRequest[] = [];
  const positions: number[] = [];
  packet.subscriptions.forEach((sub, i) => {
    if (v5 && sub.topic.startsWith(SHARED_PREFIX)) {
      granted[i] = ReasonCode.SharedSubscriptionsNotSupported;
      return;
    }
    requests.push({ filter: sub.topic, qos: sub.qos as Qos });
    positions.push(i);
  });
  const session = link.session;
  const results = await link.router.subscribe(session, requests);
  results.forEach((result, j) => {
    const i = positions[j] as number;
    if ("granted" in result) granted[i] = result.granted;
    else granted[i] = v5 ? ReasonCode[result.refused] : SubackFailureV3;
  });
  // [MQTT-3.8.4-1] SUBACK with the same packet id, one code per filter ([MQTT-3.8.4-5]).
  link.send({ cmd: "suback", packetId: packet.packetId, granted });
  link.router.pump(session);
}

export async function handleUnsubscribe(
  link: LinkContext,
  packet: UnsubscribePacket,
): Promise<void> {
  if (!packet.packetId) throw new ProtocolError("ProtocolError", "packet id 0");
  // [MQTT-3.10.3-2] At least one filter.
  if (packet.unsubscriptions.length === 0) {
    throw new ProtocolError("ProtocolError", "UNSUBSCRIBE without a filter");
  }
  const results = await link.router.unsubscribe(link.session, packet.unsubscriptions);
  if (link.version === 5) {
    const granted = results.map((r) => ReasonCode[r]);
    link.send({ cmd: "unsuback", packetId: packet.packetId, granted });
  } else {
    // [MQTT-3.10.4-4] UNSUBACK even when nothing was unsubscribed.
    link.send({ cmd: "unsuback", packetId: packet.packetId, granted: [] });
  }
}
