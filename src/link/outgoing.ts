// Turns what a link sends into bytes for its client, within what the
// client's MQTT 5 CONNECT allowed:
// - a PUBLISH gets a topic alias when the client accepts them (an alias
//   already mapped to its topic replaces the topic name), its forwarded
//   properties, and its user properties in the publisher's order
//   ([MQTT-3.3.2-18]);
// - with Request Problem Information 0, no reason string or user property
//   goes out on a packet other than PUBLISH, CONNACK or DISCONNECT
//   ([MQTT-3.1.2-29]);
// - no packet larger than the client's Maximum Packet Size goes out
//   ([MQTT-3.1.2-24]): reason strings and user properties are left out first
//   (spec 3.1.2.11.4), and a PUBLISH that still does not fit is not sent
//   (the link then treats it as delivered, [MQTT-3.1.2-25]).
//
// Who calls it: link.ts, for every packet it writes. It never writes to the socket.

import {
  encodePacket,
  encodePublishFast,
  type MqttPacket,
  type PacketTemplate,
  type ProtocolVersion,
} from "../protocol/index.ts";
import type { OutgoingPublish } from "../router/index.ts";
import type { ClientLimits } from "./context.ts";
import { type AliasChoice, OutboundAliases } from "./topic-aliases.ts";

/** Before CONNECT is accepted: no client limits are known. */
export const NO_CLIENT_LIMITS: ClientLimits = {
  maxPacketBytes: Number.POSITIVE_INFINITY,
  topicAliasMax: 0,
  problemInformation: true,
};

/** Packets that may carry a reason string and user properties whatever the client asked. */
const ALWAYS_INFORMED = new Set<MqttPacket["cmd"]>(["publish", "connack", "disconnect"]);

type Properties = Record<string, unknown> & { reasonString?: string; userProperties?: unknown };
type PublishProperties = NonNullable<Extract<MqttPacket, { cmd: "publish" }>["properties"]>;

export class Outgoing {
  readonly limits: ClientLimits;
  /** Only when the client accepts topic aliases (most do not: no maps for them). */
  readonly #aliases: OutboundAliases | undefined;

  constructor(limits: ClientLimits) {
    this.limits = limits;
    const aliases = new OutboundAliases(limits.topicAliasMax);
    this.#aliases = aliases.enabled ? aliases : undefined;
  }

  /** The bytes of a packet other than a forwarded PUBLISH; undefined when it cannot fit. */
  encode(packet: MqttPacket, version: ProtocolVersion): Buffer | undefined {
    if (version !== 5) return encodePacket(packet, version);
    let out = packet;
    if (!this.limits.problemInformation && !ALWAYS_INFORMED.has(packet.cmd)) {
      out = withoutProblemInformation(out);
    }
    let bytes = encodePacket(out, version);
    if (bytes.length <= this.limits.maxPacketBytes) return bytes;
    bytes = encodePacket(withoutProblemInformation(out), version);
    return bytes.length <= this.limits.maxPacketBytes ? bytes : undefined;
  }

  /**
   * The bytes of a PUBLISH to the client; undefined when it is larger than
   * the client's Maximum Packet Size (nothing about the connection changes then).
   */
  encodePublish(publish: OutgoingPublish, version: ProtocolVersion): Buffer | undefined {
    const { packet, properties } = publishPacket(publish, version);
    if (version !== 5) return encodePublish(packet, properties, version);
    let choice: AliasChoice | undefined;
    if (this.#aliases !== undefined) {
      // [MQTT-3.1.2-26] never above the client's Topic Alias Maximum (OutboundAliases).
      choice = this.#aliases.choose(publish.topic);
      properties.topicAlias = choice.alias;
      if (!choice.withTopic) packet.topic = "";
    }
    const bytes = encodePublish(packet, properties, version);
    // [MQTT-3.1.2-24] Not sent; the alias is not recorded either.
    if (bytes.length > this.limits.maxPacketBytes) return undefined;
    if (choice !== undefined) this.#aliases?.commit(publish.topic, choice);
    return bytes;
  }

  /**
   * The encoding of a PUBLISH shared by every delivery of its message
   * (packet-templates.ts: made once, the packet id and DUP patched when it is
   * copied out), or undefined when this delivery cannot share it: the router
   * gave it no templates, or topic aliases are in use on this connection (the
   * topic then depends on the connection). The caller checks its size
   * against the client's Maximum Packet Size.
   */
  sharedPublish(publish: OutgoingPublish, version: ProtocolVersion): PacketTemplate | undefined {
    const templates = publish.templates;
    if (templates === undefined || this.#aliases !== undefined) return undefined;
    const found = templates.find(publish, version);
    if (found !== null) return found;
    // The first delivery of this variant: encoded with packet id 1 and DUP 0, to be patched.
    const fast =
      publish.properties === undefined
        ? encodePublishFast(
            {
              topic: publish.topic,
              payload: publish.payload,
              qos: publish.qos,
              retain: publish.retain,
              dup: false,
              packetId: 1,
            },
            version,
          )
        : undefined;
    if (fast !== undefined) return templates.keep(publish, version, fast);
    const { packet, properties } = publishPacket({ ...publish, packetId: 1, dup: false }, version);
    return templates.keep(publish, version, encodePublish(packet, properties, version));
  }
}

/** Before CONNECT is accepted; it holds no state, so every link shares it. */
export const BEFORE_CONNECT = new Outgoing(NO_CLIENT_LIMITS);

/** The Outgoing for a client's limits: the shared one when the client set none. */
export function outgoingFor(limits: ClientLimits): Outgoing {
  const none =
    limits.maxPacketBytes === NO_CLIENT_LIMITS.maxPacketBytes &&
    limits.topicAliasMax === NO_CLIENT_LIMITS.topicAliasMax &&
    limits.problemInformation === NO_CLIENT_LIMITS.problemInformation;
  return none ? BEFORE_CONNECT : new Outgoing(limits);
}

/** A PUBLISH's bytes: by the fast path when it has no properties, else by mqtt-packet. */
function encodePublish(
  packet: Extract<MqttPacket, { cmd: "publish" }>,
  properties: PublishProperties,
  version: ProtocolVersion,
): Buffer {
  if (Object.keys(properties).length > 0) {
    packet.properties = properties;
    return encodePacket(packet, version);
  }
  if (packet.userPropertyList !== undefined) return encodePacket(packet, version);
  return encodePublishFast(packet, version) ?? encodePacket(packet, version);
}

/** The PUBLISH packet of a delivery without its properties, and the properties (v5) to add. */
function publishPacket(
  publish: OutgoingPublish,
  version: ProtocolVersion,
): { packet: Extract<MqttPacket, { cmd: "publish" }>; properties: PublishProperties } {
  const packet: Extract<MqttPacket, { cmd: "publish" }> = {
    cmd: "publish",
    topic: publish.topic,
    payload: publish.payload,
    qos: publish.qos,
    dup: publish.dup,
    retain: publish.retain,
    ...(publish.packetId === undefined ? {} : { packetId: publish.packetId }),
  };
  if (version !== 5) return { packet, properties: {} };
  // Every forwarded property goes out as it came in; user properties in their own order.
  const { userProperties, ...others } = publish.properties ?? {};
  if (userProperties !== undefined && userProperties.length > 0) {
    packet.userPropertyList = userProperties;
  }
  return { packet, properties: { ...others } };
}

function withoutProblemInformation(packet: MqttPacket): MqttPacket {
  const properties = (packet as { properties?: Properties }).properties;
  if (properties === undefined && packet.userPropertyList === undefined) return packet;
  const { reasonString: _r, userProperties: _u, ...rest } = properties ?? {};
  const { userPropertyList: _l, ...stripped } = packet;
  return { ...stripped, properties: rest } as MqttPacket;
}
