// SUBSCRIBE and UNSUBSCRIBE. This file checks what only the packet can tell
// (a Subscription Identifier of 0, No Local on a shared subscription) and
// reads the MQTT 5 subscription options; the router decides each filter
// (shared subscriptions `$share/<group>/<filter>` included, for 3.1.1
// clients too); its results become SUBACK/UNSUBACK codes for the client's
// version and, after the SUBACK is written, the router sends the retained
// messages it owes.
// A filter the `[authorization]` rules refuse never reaches the router: it
// gets 0x80 (v5 0x80 "unspecified error", or 0x87 with reveal_reason).
// Who calls it: dispatch.ts.

import {
  ProtocolError,
  ReasonCode,
  SubackFailureV3,
  type SubscribePacket,
  topicFilterProblem,
  type UnsubscribePacket,
} from "../../protocol/index.ts";
import type { Qos, SubscribeRequest, SubscribeResult } from "../../router/index.ts";
import { maySubscribe } from "../access.ts";
import type { LinkContext } from "../context.ts";

const SHARED_PREFIX = "$share/";

/** The SUBSCRIBE's Subscription Identifier, checked (spec 3.8.2.1.2). */
function subscriptionIdOf(packet: SubscribePacket): number | undefined {
  const id: unknown = packet.properties?.subscriptionIdentifier;
  if (id === undefined) return undefined;
  // At most one per SUBSCRIBE, and 0 is a protocol error (1..268,435,455).
  if (typeof id !== "number" || id === 0) {
    throw new ProtocolError("ProtocolError", "subscription identifier 0 or repeated");
  }
  return id;
}

function requestOf(
  sub: SubscribePacket["subscriptions"][number],
  id: number | undefined,
): SubscribeRequest {
  // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error (DISCONNECT 0x82).
  if (sub.nl === true && sub.topic.startsWith(SHARED_PREFIX)) {
    throw new ProtocolError("ProtocolError", "No Local on a shared subscription");
  }
  const rh = sub.rh;
  return {
    filter: sub.topic,
    qos: sub.qos as Qos,
    noLocal: sub.nl === true,
    retainAsPublished: sub.rap === true,
    retainHandling: rh === 1 || rh === 2 ? rh : 0,
    ...(id === undefined ? {} : { subscriptionId: id }),
  };
}

export async function handleSubscribe(link: LinkContext, packet: SubscribePacket): Promise<void> {
  const v5 = link.version === 5;
  // [MQTT-2.3.1-1] SUBSCRIBE and UNSUBSCRIBE carry a non-zero packet identifier.
  if (!packet.packetId) throw new ProtocolError("ProtocolError", "packet id 0");
  // [MQTT-3.8.3-3] At least one filter.
  if (packet.subscriptions.length === 0) {
    throw new ProtocolError("ProtocolError", "SUBSCRIBE without a filter");
  }
  const id = v5 ? subscriptionIdOf(packet) : undefined;
  // Checked for every filter before any is acted on.
  const requests = packet.subscriptions.map((sub) => requestOf(sub, id));
  // An invalid filter is the router's to refuse (0x8F); a valid one is checked against the rules.
  const allowed = requests.map(
    (r) => topicFilterProblem(r.filter) !== undefined || maySubscribe(link, r.filter),
  );
  const session = link.session;
  const permitted = requests.filter((_, i) => allowed[i]);
  const results = permitted.length > 0 ? await link.router.subscribe(session, permitted) : [];
  let next = 0;
  const granted = allowed.map((ok) => {
    if (!ok) return refusedCode(link);
    const result = results[next++] as SubscribeResult;
    if ("granted" in result) return result.granted;
    // [MQTT-4.8.2-1] [MQTT-4.8.2-2] an invalid filter or share name: 0x8F (v5), 0x80 (3.1.1).
    return v5 ? ReasonCode[result.refused] : SubackFailureV3;
  });
  // [MQTT-3.8.4-1] SUBACK with the same packet id, one code per filter ([MQTT-3.8.4-5]).
  link.send({ cmd: "suback", packetId: packet.packetId, granted });
  link.router.pump(session);
}

/** SUBACK code for a filter the rules refuse (CONFIG.md "[authorization]"). */
function refusedCode(link: LinkContext): number {
  if (link.version !== 5) return SubackFailureV3;
  return link.options.access?.revealReason ? ReasonCode.NotAuthorized : ReasonCode.UnspecifiedError;
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
