// PUBLISH and PUBREL from the client. A PUBLISH is checked (topic name or
// topic alias, payload size, properties), handed to the router, which
// appends it to the log, and acknowledged (PUBACK / PUBREC) only after its
// commit (spec 4.3.2, 4.3.3: the broker takes ownership once the message is
// durable). QoS 0 and 1 take no promise per message: the router calls a
// CommitWaiter when the group commit holding the message is durable (one per
// QoS 1 publish, the link's shared one at QoS 0, which only reports a failure).
// A PUBLISH the `[authorization]` rules refuse is dropped (see refusePublish).
// Who calls it: dispatch.ts.

import { isUtf8 } from "node:buffer";
import {
  type MqttPacket,
  ProtocolError,
  type PublishPacket,
  ReasonCode,
  topicNameProblem,
  type UserProperty,
  userPropertyListOf,
} from "../../protocol/index.ts";
import type { CommitWaiter, ForwardedProperties, Message } from "../../router/index.ts";
import { mayPublish } from "../access.ts";
import type { LinkContext } from "../context.ts";

type PublishProperties = PublishPacket["properties"];

/**
 * The MQTT 5 properties a subscriber receives unchanged (spec 3.3.2.3):
 * payload format indicator ([MQTT-3.3.2-4]), content type ([MQTT-3.3.2-20]),
 * response topic ([MQTT-3.3.2-15]), correlation data ([MQTT-3.3.2-16]) and
 * user properties in their order ([MQTT-3.3.2-17], [MQTT-3.3.2-18]).
 * `userPropertyList` is the decoder's wire-order list; without it (a will
 * from an older caller) the object form's order is used.
 */
export function forwardedProperties(
  properties: PublishProperties | undefined,
  userPropertyList?: UserProperty[],
): ForwardedProperties | undefined {
  if (properties === undefined) return undefined;
  const out: ForwardedProperties = {};
  if (properties.payloadFormatIndicator !== undefined) {
    out.payloadFormatIndicator = properties.payloadFormatIndicator;
  }
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic;
  if (properties.correlationData !== undefined) out.correlationData = properties.correlationData;
  const pairs = userPropertyList ?? userPropertyListOf(properties.userProperties);
  if (pairs.length > 0) out.userProperties = pairs;
  return Object.keys(out).length === 0 ? undefined : out;
}

function checkTopicName(topic: string): void {
  // [MQTT-3.3.2-2] No wildcards, [MQTT-4.7.3-1..3] not empty, no U+0000, at most 65,535 bytes.
  if (topicNameProblem(topic) !== undefined) {
    throw new ProtocolError("TopicNameInvalid", "invalid topic name in PUBLISH");
  }
}

/** MQTT 5 property rules for a PUBLISH from a client. */
function checkProperties(properties: PublishProperties, payload: Buffer): void {
  if (properties === undefined) return;
  // [MQTT-3.3.4-6] A PUBLISH from a client carries no subscription identifier.
  if (properties.subscriptionIdentifier !== undefined) {
    throw new ProtocolError("ProtocolError", "subscription identifier in a client's PUBLISH");
  }
  // [MQTT-3.3.2-14] The response topic is a topic name: no wildcards.
  const responseTopic = properties.responseTopic;
  if (responseTopic !== undefined && topicNameProblem(responseTopic) !== undefined) {
    throw new ProtocolError("ProtocolError", "invalid response topic");
  }
  // Spec 3.3.2.3.2: a payload said to be UTF-8 may be checked; one that is not gets 0x99.
  if (properties.payloadFormatIndicator === true && !isUtf8(payload)) {
    throw new ProtocolError("PayloadFormatInvalid", "payload is not UTF-8 as its format says");
  }
}

function messageOf(link: LinkContext, packet: PublishPacket): Message {
  const v5 = link.version === 5;
  // MQTT 5: the topic may be given by an alias (spec 3.3.2.3.4).
  const topic = v5
    ? link.inboundAliases.resolve(packet.topic, packet.properties?.topicAlias, checkTopicName)
    : packet.topic;
  if (!v5) checkTopicName(topic);
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  if (payload.length > link.options.maxPayloadBytes) {
    throw new ProtocolError("PacketTooLarge", "payload larger than max_payload_size");
  }
  if (v5) checkProperties(packet.properties, payload);
  const expirySec = packet.properties?.messageExpiryInterval;
  // Built field by field: a conditional spread costs an object and a copy per message.
  const message: Message = {
    topic,
    qos: packet.qos,
    retain: packet.retain,
    payload,
    expiresAtMs: v5 && expirySec !== undefined ? Date.now() + expirySec * 1000 : null,
    // Kept with the message for No Local subscriptions ([MQTT-3.8.3-3]).
    publisherId: link.session.clientId,
  };
  if (v5 && packet.properties !== undefined) {
    const properties = forwardedProperties(packet.properties, packet.userPropertyList ?? []);
    if (properties !== undefined) message.properties = properties;
  }
  return message;
}

function countInbound(link: LinkContext): void {
  // [MQTT-3.3.4-7] More unacknowledged QoS 1/2 publishes than Receive Maximum: 0x93.
  if (link.version === 5 && link.inboundUnacked >= link.options.receiveMaximum) {
    throw new ProtocolError("ReceiveMaximumExceeded", "receive maximum exceeded");
  }
  link.inboundUnacked++;
}

/** QoS 1: PUBACK once the message is committed, in its place among the link's acks. */
class PubackWhenCommitted implements CommitWaiter {
  readonly #link: LinkContext;
  readonly #packetId: number | undefined;
  readonly #ack: (packet: MqttPacket | undefined) => void;

  constructor(link: LinkContext, packetId: number | undefined) {
    this.#link = link;
    this.#packetId = packetId;
    this.#ack = link.reserveAck();
  }

  committed(): void {
    this.#link.inboundUnacked--;
    this.#ack({ cmd: "puback", packetId: this.#packetId });
  }

  failed(error: unknown): void {
    this.#ack(undefined);
    this.#link.handlerFailed(error);
  }
}

/** Returns a promise only for QoS 2; QoS 0 and 1 finish through a CommitWaiter. */
export function handlePublish(link: LinkContext, packet: PublishPacket): Promise<void> | undefined {
  const message = messageOf(link, packet);
  const packetId = packet.packetId;
  // [MQTT-2.3.1-1] A QoS 1/2 PUBLISH carries a non-zero packet identifier.
  if (packet.qos > 0 && !packetId) throw new ProtocolError("ProtocolError", "packet id 0");
  // [MQTT-3.3.1-2] DUP is 0 on every QoS 0 PUBLISH (v5: a malformed packet).
  if (packet.qos === 0 && packet.dup) throw new ProtocolError("MalformedPacket", "DUP on QoS 0");
  if (!mayPublish(link, message.topic, "publish")) {
    refusePublish(link, packet.qos, packetId);
    return undefined;
  }
  switch (packet.qos) {
    case 0:
      link.router.publishThen(message, link.qos0Waiter);
      return undefined;
    case 1: {
      countInbound(link);
      const waiter = new PubackWhenCommitted(link, packetId);
      try {
        link.router.publishThen(message, waiter);
      } catch (error) {
        waiter.failed(error);
      }
      return undefined;
    }
    case 2:
      return handleQos2(link, packetId, message);
  }
}

async function handleQos2(
  link: LinkContext,
  packetId: number | undefined,
  message: Message,
): Promise<void> {
  if (packetId === undefined) throw new ProtocolError("MalformedPacket", "no packet id");
  const session = link.session;
  if (!session.inboundQos2.has(packetId)) countInbound(link);
  const ack = link.reserveAck();
  try {
    await link.router.receiveQos2(session, packetId, message);
  } catch (error) {
    ack(undefined);
    throw error;
  }
  ack({ cmd: "pubrec", packetId });
}

/**
 * A PUBLISH the rules refuse is dropped, never stored (CONFIG.md
 * "[authorization]"). MQTT 5 QoS 1/2 publishers get 0x87 "not authorized" in
 * PUBACK/PUBREC (which ends a QoS 2 exchange, spec 4.3.3); 3.1.1 has no
 * way to say it, so the publisher gets a plain ack, as mosquitto does, and its
 * PUBREL gets PUBCOMP. The refusal is logged (access.ts).
 */
function refusePublish(link: LinkContext, qos: number, packetId: number | undefined): void {
  if (qos === 0 || packetId === undefined) return;
  const ack = link.reserveAck();
  const cmd = qos === 1 ? "puback" : "pubrec";
  if (link.version === 5) ack({ cmd, packetId, reasonCode: ReasonCode.NotAuthorized });
  else ack({ cmd, packetId });
}

/** PUBREL: the QoS 2 exchange ends with PUBCOMP (spec 4.3.3). */
export async function handlePubrel(link: LinkContext, packetId: number | undefined): Promise<void> {
  if (packetId === undefined) return;
  const ack = link.reserveAck();
  let known: boolean;
  try {
    known = await link.router.releaseQos2(link.session, packetId);
  } catch (error) {
    ack(undefined);
    throw error;
  }
  if (known && link.inboundUnacked > 0) link.inboundUnacked--;
  if (link.version === 5 && !known) {
    // The reason string is left out when the client asked for no problem information
    // ([MQTT-3.1.2-29], outgoing.ts).
    ack({
      cmd: "pubcomp",
      packetId,
      reasonCode: ReasonCode.PacketIdentifierNotFound,
      properties: { reasonString: "no QoS 2 message with this packet identifier awaits PUBREL" },
    });
  } else {
    ack({ cmd: "pubcomp", packetId });
  }
}
