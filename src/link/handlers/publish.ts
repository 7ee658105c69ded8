// PUBLISH and PUBREL from the client. A PUBLISH is checked (topic name,
// payload size, topic alias), handed to the router, which appends it to the
// log, and acknowledged (PUBACK / PUBREC) only after its commit
// (spec 4.3.2, 4.3.3: the broker takes ownership once the message is durable).
// Who calls it: dispatch.ts.

import {
  ProtocolError,
  type PublishPacket,
  ReasonCode,
  topicNameProblem,
} from "../../protocol/index.ts";
import type { ForwardedProperties, Message } from "../../router/index.ts";
import type { LinkContext } from "../context.ts";

type PublishProperties = PublishPacket["properties"];

/** The MQTT 5 properties a subscriber receives unchanged (spec 3.3.2.3). */
export function forwardedProperties(
  properties: PublishProperties | undefined,
): ForwardedProperties | undefined {
  if (properties === undefined) return undefined;
  const out: ForwardedProperties = {};
  if (properties.payloadFormatIndicator !== undefined) {
    out.payloadFormatIndicator = properties.payloadFormatIndicator;
  }
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.responseTopic !== undefined) out.responseTopic = properties.responseTopic;
  if (properties.correlationData !== undefined) out.correlationData = properties.correlationData;
  if (properties.userProperties !== undefined) out.userProperties = properties.userProperties;
  return Object.keys(out).length === 0 ? undefined : out;
}

function messageOf(link: LinkContext, packet: PublishPacket): Message {
  // [MQTT-3.3.2-2] No wildcards, [MQTT-4.7.3-1..3] not empty, no U+0000, at most 65,535 bytes.
  if (topicNameProblem(packet.topic) !== undefined) {
    throw new ProtocolError("TopicNameInvalid", "invalid topic name in PUBLISH");
  }
  // No topic aliases are accepted yet (CONNACK advertises none): [MQTT-3.3.2-9].
  if (packet.properties?.topicAlias !== undefined) {
    throw new ProtocolError("TopicAliasInvalid", "topic alias not accepted");
  }
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  if (payload.length > link.options.maxPayloadBytes) {
    throw new ProtocolError("PacketTooLarge", "payload larger than max_payload_size");
  }
  const expirySec = packet.properties?.messageExpiryInterval;
  const properties = link.version === 5 ? forwardedProperties(packet.properties) : undefined;
  return {
    topic: packet.topic,
    qos: packet.qos,
    retain: packet.retain,
    payload,
    ...(properties === undefined ? {} : { properties }),
    expiresAtMs:
      link.version === 5 && expirySec !== undefined ? Date.now() + expirySec * 1000 : null,
    // Kept with the message for No Local subscriptions ([MQTT-3.8.3-3]).
    publisherId: link.session.clientId,
  };
}

function countInbound(link: LinkContext): void {
  // [MQTT-3.3.4-7] More unacknowledged QoS 1/2 publishes than Receive Maximum: 0x93.
  if (link.version === 5 && link.inboundUnacked >= link.options.receiveMaximum) {
    throw new ProtocolError("ReceiveMaximumExceeded", "receive maximum exceeded");
  }
  link.inboundUnacked++;
}

export async function handlePublish(link: LinkContext, packet: PublishPacket): Promise<void> {
  const message = messageOf(link, packet);
  const packetId = packet.packetId;
  // [MQTT-2.3.1-1] A QoS 1/2 PUBLISH carries a non-zero packet identifier.
  if (packet.qos > 0 && !packetId) throw new ProtocolError("ProtocolError", "packet id 0");
  // [MQTT-3.3.1-2] DUP is 0 on every QoS 0 PUBLISH (v5: a malformed packet).
  if (packet.qos === 0 && packet.dup) throw new ProtocolError("MalformedPacket", "DUP on QoS 0");
  const session = link.session;
  switch (packet.qos) {
    case 0:
      await link.router.publish(message);
      return;
    case 1: {
      countInbound(link);
      const ack = link.reserveAck();
      try {
        await link.router.publish(message);
      } catch (error) {
        ack(undefined);
        throw error;
      }
      link.inboundUnacked--;
      ack({ cmd: "puback", packetId });
      return;
    }
    case 2: {
      if (packetId === undefined) throw new ProtocolError("MalformedPacket", "no packet id");
      if (!session.inboundQos2.has(packetId)) countInbound(link);
      const ack = link.reserveAck();
      try {
        await link.router.receiveQos2(session, packetId, message);
      } catch (error) {
        ack(undefined);
        throw error;
      }
      ack({ cmd: "pubrec", packetId });
      return;
    }
  }
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
    ack({ cmd: "pubcomp", packetId, reasonCode: ReasonCode.PacketIdentifierNotFound });
  } else {
    ack({ cmd: "pubcomp", packetId });
  }
}
