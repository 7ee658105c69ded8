// The codec: a thin wrapper over mqtt-packet for MQTT 3.1, 3.1.1 and 5.
// One decoder per connection; it learns the protocol version from the
// CONNECT it parses. This is the one place where mqtt-packet's `messageId`
// becomes our `packetId` and back.
//
// MQTT 5 user properties are also given in wire order (`userPropertyList`,
// see user-properties.ts), and a property that may appear once but appears
// twice is a protocol error (spec 2.2.2.2). Whole PUBLISH and ack packets
// take a fast path (fast-path.ts); the rest goes through mqtt-packet's parser
// (packet-parser.ts, which also checks UTF-8 and keeps little per connection).
//
// Who calls it: the link (decode what a socket delivers, encode what it
// writes). It never touches a socket and never throws out of `push`: parse
// failures are reported to the sink (`decodeFailed`) as a ProtocolError.

import mqttPacket from "mqtt-packet";
import { decodeFast, type TopicMemo } from "./fast-path.ts";
import { PacketParser, type ParserSettings, type ParserSink } from "./packet-parser.ts";
import { ProtocolError } from "./protocol-error.ts";
import {
  packetBytes,
  spliceUserProperties,
  type UserProperty,
  userPropertyCount,
  userPropertyObject,
} from "./user-properties.ts";

type Raw = mqttPacket.Packet;

/**
 * mqtt-packet's packet with `messageId` renamed to `packetId`, per packet type,
 * and the packet's own MQTT 5 user properties in wire order: set by the
 * decoder when the packet has any; when set on a PUBLISH to encode, written
 * instead of `properties.userProperties` ([MQTT-3.3.2-18]).
 */
type Converted<P> = P extends unknown
  ? Omit<P, "messageId" | "length"> & { packetId?: number; userPropertyList?: UserProperty[] }
  : never;

export type MqttPacket = Converted<Raw>;
/** A CONNECT; `willUserPropertyList` holds the will's user properties in wire order. */
export type ConnectPacket = Converted<mqttPacket.IConnectPacket> & {
  willUserPropertyList?: UserProperty[];
};
export type ConnackPacket = Converted<mqttPacket.IConnackPacket>;
export type PublishPacket = Converted<mqttPacket.IPublishPacket>;
export type SubscribePacket = Converted<mqttPacket.ISubscribePacket>;
export type SubackPacket = Converted<mqttPacket.ISubackPacket>;
export type UnsubscribePacket = Converted<mqttPacket.IUnsubscribePacket>;
export type UnsubackPacket = Converted<mqttPacket.IUnsubackPacket>;
export type DisconnectPacket = Converted<mqttPacket.IDisconnectPacket>;
export type AuthPacket = Converted<mqttPacket.IAuthPacket>;
export type PacketType = MqttPacket["cmd"];
export type Qos = mqttPacket.QoS;

/** 3 = MQTT 3.1 (MQIsdp), 4 = MQTT 3.1.1, 5 = MQTT 5. */
export type ProtocolVersion = 3 | 4 | 5;

/** What a decoder checks packets against; one object may serve many decoders. */
export interface DecoderLimits {
  /** Set by a client, which knows its version; a server's decoder learns it from CONNECT. */
  protocolVersion?: ProtocolVersion;
  /** Packets larger than this (fixed header included) are refused before they are buffered. */
  maxPacketBytes: number;
}

/**
 * Where a decoder hands what it decoded: called as methods of the sink, so
 * that a long-lived object (a link) can be its own sink, without a closure
 * per connection.
 */
export interface DecoderSink {
  /** `bytes` is the packet's whole size on the wire. */
  packetDecoded(packet: MqttPacket, bytes: number): void;
  decodeFailed(error: ProtocolError): void;
}

export interface DecoderOptions extends DecoderLimits {
  /** `bytes` is the packet's whole size on the wire. */
  onPacket: (packet: MqttPacket, bytes: number) => void;
  onError: (error: ProtocolError) => void;
}

export interface Decoder {
  /** Feeds bytes; complete packets are handed to the sink in order, synchronously. */
  push(chunk: Buffer): void;
}

function fromRaw(raw: Raw, pairs: UserProperty[]): MqttPacket {
  const packet = raw.cmd === "publish" ? fromRawPublish(raw) : fromRawOther(raw);
  if (pairs.length === 0) return packet;
  // The packet's own properties come first on the wire; in a CONNECT the
  // will's properties follow them.
  const props = (packet as { properties?: { userProperties?: Record<string, string | string[]> } })
    .properties;
  const own = userPropertyCount(props?.userProperties);
  if (own > 0) packet.userPropertyList = pairs.slice(0, own);
  if (packet.cmd === "connect" && pairs.length > own) {
    (packet as ConnectPacket).willUserPropertyList = pairs.slice(own);
  }
  return packet;
}

function fromRawOther(raw: Raw): MqttPacket {
  const { messageId, length: _length, ...rest } = raw as Raw & { length?: number };
  const packet = rest as MqttPacket;
  if (messageId !== undefined) packet.packetId = messageId;
  return packet;
}

/**
 * The hot path: a PUBLISH built field by field (an object rest copy is
 * several times slower), with the same fields in the same order as
 * fromRawOther makes them from mqtt-packet 9's Packet.
 */
function fromRawPublish(raw: mqttPacket.IPublishPacket): PublishPacket {
  const packet: PublishPacket = {
    cmd: "publish",
    retain: raw.retain,
    qos: raw.qos,
    dup: raw.dup,
    topic: raw.topic,
    payload: raw.payload,
  };
  if (raw.properties !== undefined) packet.properties = raw.properties;
  if (raw.messageId !== undefined) packet.packetId = raw.messageId;
  return packet;
}

/** The name of a property given more than once where the spec allows one, or undefined. */
function repeatedProperty(packet: Raw): string | undefined {
  const blocks = [
    (packet as { properties?: object }).properties,
    packet.cmd === "connect" ? packet.will?.properties : undefined,
  ];
  for (const block of blocks) {
    if (block === undefined || block === null) continue;
    for (const [name, value] of Object.entries(block)) {
      // userProperties is an object (repeats allowed). A PUBLISH from a server may carry
      // several subscription identifiers (spec 3.3.2.3.8; a client's PUBLISH carries none,
      // which the link checks); this decoder also serves test clients.
      if (name === "subscriptionIdentifier" && packet.cmd === "publish") continue;
      if (Array.isArray(value)) return name;
    }
  }
  return undefined;
}

function classifyParseError(message: string): ProtocolError {
  // mqtt-packet reports an unknown protocol level in CONNECT this way; the
  // link answers it with "unsupported protocol version" ([MQTT-3.1.2-2]).
  if (message === "Invalid protocol version") {
    return new ProtocolError("UnsupportedProtocolVersion", message);
  }
  return new ProtocolError("MalformedPacket", message);
}

export function createDecoder(options: DecoderOptions): Decoder {
  return new PacketDecoder(options, {
    packetDecoded: options.onPacket,
    decodeFailed: options.onError,
  });
}

/** A decoder that checks against `limits` (shareable) and reports to `sink`. */
export function createSinkDecoder(limits: DecoderLimits, sink: DecoderSink): Decoder {
  return new PacketDecoder(limits, sink);
}

/** The version a parser would decode with, if it is known. */
function knownVersion(settings: ParserSettings): 3 | 4 | 5 | undefined {
  const version = settings.protocolVersion;
  return version === 3 || version === 4 || version === 5 ? version : undefined;
}

/** The user properties of a packet that has none (shared, never added to). */
const NO_PAIRS: UserProperty[] = Object.freeze([]) as unknown as UserProperty[];

/** An empty topic memo. */
function emptyTopicMemo(): TopicMemo {
  return { bytes: undefined, text: "" };
}

/** The settings of a parser for a decoder that learns its version from CONNECT (never changed). */
const NO_SETTINGS: ParserSettings = Object.freeze({});

/** A packet parsed by mqtt-packet, waiting to be handed on after parse() returns. */
interface Ready {
  packet: Raw;
  bytes: number;
  badUtf8: boolean;
  pairs: UserProperty[];
}

/**
 * One connection's decoder: whole PUBLISH and ack packets take the fast path
 * (fast-path.ts) while the parser holds nothing; the rest goes through
 * mqtt-packet (packet-parser.ts), which reports to this object.
 */
class PacketDecoder implements Decoder, ParserSink {
  readonly #options: DecoderLimits;
  readonly #sink: DecoderSink;
  /**
   * mqtt-packet's parser, made when a chunk needs it and let go once it holds
   * nothing: an idle connection, whose packets take the fast path, keeps none.
   */
  #parser: PacketParser | undefined;
  /** What a new parser starts from: the protocol version (and bridge mode) CONNECT gave. */
  #settings: ParserSettings;
  #failed = false;
  #badUtf8 = false;
  // Made when a packet takes mqtt-packet's path (a connection whose packets
  // all take the fast path after CONNECT keeps none).
  #pairs: UserProperty[] = NO_PAIRS;
  #ready: Ready[] | undefined;
  /** The last topic the fast path decoded; made with the first PUBLISH (fast-path.ts). */
  #topic: TopicMemo | undefined;

  constructor(options: DecoderLimits, sink: DecoderSink) {
    this.#options = options;
    this.#sink = sink;
    this.#settings =
      options.protocolVersion === undefined
        ? NO_SETTINGS
        : { protocolVersion: options.protocolVersion };
  }

  packet(packet: Raw): void {
    const remaining = (packet as Raw & { length?: number }).length ?? 0;
    const pairs = this.#pairs;
    this.#ready ??= [];
    this.#ready.push({ packet, bytes: packetBytes(remaining), badUtf8: this.#badUtf8, pairs });
    this.#badUtf8 = false;
    this.#pairs = NO_PAIRS;
  }

  error(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#sink.decodeFailed(classifyParseError(error.message));
  }

  invalidUtf8(): void {
    this.#badUtf8 = true;
  }

  userProperty(pair: UserProperty): void {
    if (this.#pairs === NO_PAIRS) this.#pairs = [];
    this.#pairs.push(pair);
  }

  push(input: Buffer): void {
    if (this.#failed) return;
    // Whole PUBLISH and ack packets at the start of the chunk take the fast
    // path while the parser holds nothing; the rest goes to mqtt-packet.
    let chunk = input;
    const version =
      this.#parser === undefined ? knownVersion(this.#settings) : this.#parser.idleVersion;
    if (version !== undefined) {
      const at = this.#pushFast(chunk, version);
      if (this.#failed || at === chunk.length) return;
      if (at > 0) chunk = chunk.subarray(at);
    }
    this.#parser ??= new PacketParser(this, this.#settings);
    const parser = this.#parser;
    try {
      parser.parse(chunk);
    } catch (error) {
      // mqtt-packet reports bad input through 'error'; a throw is a parser bug on odd input,
      // still the peer's bytes: answer it as malformed rather than crash the broker.
      this.#fail(new ProtocolError("MalformedPacket", "undecodable packet", { cause: error }));
      return;
    }
    this.#handOn(parser);
    if (this.#failed) return;
    // A packet still being received: refuse it once its announced length is
    // known, before buffering the rest of it.
    const pending = parser.pendingLength;
    if (pending >= 0 && packetBytes(pending) > this.#options.maxPacketBytes) {
      this.#fail(new ProtocolError("PacketTooLarge", `packet of ${pending} bytes`));
      return;
    }
    if (parser.idleVersion !== undefined) {
      this.#settings = parser.settings;
      this.#parser = undefined;
    }
  }

  /**
   * Hands on the whole fast-path packets at the start of `chunk`; returns
   * where the first other packet (or the end) is. Stops if the sink fails us.
   */
  #pushFast(chunk: Buffer, version: ProtocolVersion): number {
    let at = 0;
    // An idle connection's first bytes are rarely a PUBLISH: the memo waits for one.
    if (this.#topic === undefined && (chunk[0] as number) >> 4 === 3) {
      this.#topic = emptyTopicMemo();
    }
    const memo = this.#topic;
    const maxPacketBytes = this.#options.maxPacketBytes;
    for (;;) {
      const decoded = decodeFast(chunk, at, version, maxPacketBytes, memo);
      if (decoded === undefined) return at;
      at = decoded.end;
      this.#sink.packetDecoded(decoded.packet, decoded.bytes);
      if (this.#failed) return at;
    }
  }

  /**
   * Hands on the packets parse() collected: afterwards, so that a handler
   * that throws or closes the link cannot corrupt parser state.
   */
  #handOn(parser: PacketParser): void {
    const ready = this.#ready;
    if (ready === undefined) return;
    this.#ready = undefined;
    for (const { packet, bytes, badUtf8: invalid, pairs: list } of ready) {
      if (this.#failed) return;
      if (invalid) {
        // [MQTT-1.5.3-1] (v5 [MQTT-1.5.4-1]): ill-formed UTF-8 closes the connection.
        this.#fail(new ProtocolError("MalformedPacket", "string is not valid UTF-8"));
        return;
      }
      if (bytes > this.#options.maxPacketBytes) {
        this.#fail(new ProtocolError("PacketTooLarge", `packet of ${bytes} bytes`));
        return;
      }
      const repeated = repeatedProperty(packet);
      if (repeated !== undefined) {
        this.#fail(new ProtocolError("ProtocolError", `property ${repeated} repeated`));
        return;
      }
      if (packet.cmd === "connect") parser.forgetConnect();
      this.#sink.packetDecoded(fromRaw(packet, list), bytes);
    }
  }

  #fail(error: ProtocolError): void {
    this.#failed = true;
    this.#sink.decodeFailed(error);
  }
}

/** Encodes one packet for a peer speaking `version`. Throws on a packet mqtt-packet cannot encode. */
export function encodePacket(packet: MqttPacket, version: ProtocolVersion): Buffer {
  const { packetId, userPropertyList, ...rest } = packet as MqttPacket & { packetId?: number };
  const raw = rest as Raw;
  if (packetId !== undefined) raw.messageId = packetId;
  const list = version === 5 ? userPropertyList : undefined;
  if (list === undefined || list.length === 0) {
    return mqttPacket.generate(raw, { protocolVersion: version });
  }
  const props = (raw as { properties?: Record<string, unknown> }).properties ?? {};
  if (raw.cmd !== "publish") {
    // Only a PUBLISH is forwarded, so only it needs the exact order.
    const withObject = { ...props, userProperties: userPropertyObject(list) };
    return mqttPacket.generate({ ...raw, properties: withObject } as Raw, {
      protocolVersion: version,
    });
  }
  const { userProperties: _dropped, ...others } = props;
  const bytes = mqttPacket.generate({ ...raw, properties: others } as Raw, {
    protocolVersion: version,
  });
  return spliceUserProperties(bytes, list);
}
