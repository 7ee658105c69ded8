// The codec's fast path for the packets of the hot path: a PUBLISH without
// MQTT 5 properties, the four acknowledgements without a reason code, and
// PINGREQ (and a 3.1.1 DISCONNECT, so that an idle connection needs no parser),
// decoded and encoded directly rather than through mqtt-packet's general
// machinery (its buffer list, event emitter and per-field debug calls cost
// more than the rest of a message's trip through the broker).
//
// Who calls it: codec.ts (decodeFast, for every complete packet of a chunk
// while mqtt-packet's parser holds nothing) and outgoing.ts through
// packet-templates.ts (encodePublishFast). Anything else, and anything
// unusual about these (QoS 3, reserved flag bits, lengths that do not add
// up, ill-formed UTF-8, properties, reason codes, a packet larger than the
// limit), is left to mqtt-packet, which gives the answer it always gave.
//
// A decoder may pass a TopicMemo: the last topic it decoded, bytes and
// string. A PUBLISH whose topic bytes equal it gets that string again
// (devices publish to the same topic over and over), without checking and
// decoding the same bytes again, and later steps that key on the topic
// (subscription matches) find a string whose hash is already known.
//
// Invariants (test/protocol/packet-templates.test.ts checks them against
// mqtt-packet 9.0.2):
// - decodeFast returns exactly the packet the general path makes of the
//   same bytes (same fields, same order), or undefined, with or without a
//   memo, whatever the memo held;
// - a memo's string is the UTF-8 decoding of its bytes, which are valid UTF-8;
// - encodePublishFast returns exactly encodePacket's bytes, or undefined.

import { isUtf8 } from "node:buffer";
import type { MqttPacket, ProtocolVersion, PublishPacket } from "./codec.ts";

/** The largest Remaining Length (four bytes of variable byte integer, spec 1.5.5). */
const MAX_REMAINING_LENGTH = 268_435_455;

const PUBLISH = 3;
const PUBREL = 6;
const PINGREQ = 12;
const DISCONNECT = 14;
const ACK_COMMANDS = {
  4: "puback",
  5: "pubrec",
  6: "pubrel",
  7: "pubcomp",
} as const;

/** Topics longer than this are not remembered (a memo stays small per connection). */
export const MEMO_MAX_TOPIC_BYTES = 256;

/** The last topic a decoder decoded (a copy of its bytes, and its string); see the header. */
export interface TopicMemo {
  bytes: Buffer | undefined;
  text: string;
}

export interface Decoded {
  packet: MqttPacket;
  /** Where the next packet starts in the buffer. */
  end: number;
  /** The packet's size on the wire, computed as the general path does. */
  bytes: number;
}

/** The size on the wire of a packet with this Remaining Length (minimal encoding). */
function wireBytes(remaining: number): number {
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/**
 * The packet at `at` in `buf` if it is complete, of a kind the fast path
 * takes, and at most `maxPacketBytes` long; otherwise undefined.
 */
export function decodeFast(
  buf: Buffer,
  at: number,
  version: ProtocolVersion,
  maxPacketBytes: number,
  memo?: TopicMemo,
): Decoded | undefined {
  if (buf.length - at < 2) return undefined;
  const first = buf[at] as number;
  const type = first >> 4;
  if (type === PINGREQ || type === DISCONNECT) return decodeEmpty(buf, at, first, version);
  if (type < PUBLISH || type > 7) return undefined;
  let remaining = 0;
  let multiplier = 1;
  let i = at + 1;
  for (;;) {
    if (i >= buf.length || i - at > 4) return undefined;
    const byte = buf[i++] as number;
    remaining += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) break;
  }
  const end = i + remaining;
  if (end > buf.length) return undefined;
  const bytes = wireBytes(remaining);
  if (bytes > maxPacketBytes) return undefined;
  const packet =
    type === PUBLISH
      ? decodePublish(buf, first, i, end, version, memo)
      : decodeAck(buf, first, type as 4 | 5 | 6 | 7, i, remaining, version);
  return packet === undefined ? undefined : { packet, end, bytes };
}

function decodePublish(
  buf: Buffer,
  first: number,
  start: number,
  end: number,
  version: ProtocolVersion,
  memo: TopicMemo | undefined,
): PublishPacket | undefined {
  const qos = (first >> 1) & 3;
  if (qos === 3 || end - start < 2) return undefined;
  const topicStart = start + 2;
  const topicEnd = topicStart + buf.readUInt16BE(start);
  const at = topicEnd + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0);
  if (at > end) return undefined;
  // MQTT 5 properties (a non-zero property length) take the general path.
  if (version === 5 && buf[at - 1] !== 0) return undefined;
  const topic = topicAt(buf, topicStart, topicEnd, memo);
  if (topic === undefined) return undefined;
  const packet: PublishPacket = {
    cmd: "publish",
    retain: (first & 1) !== 0,
    qos: qos as 0 | 1 | 2,
    dup: (first & 8) !== 0,
    topic,
    payload: buf.subarray(at, end),
  };
  if (qos > 0) packet.packetId = buf.readUInt16BE(topicEnd);
  return packet;
}

/**
 * The topic in `buf[start, end)`: the memo's string when the bytes are the
 * memo's, else decoded (undefined when not valid UTF-8) and remembered.
 */
function topicAt(
  buf: Buffer,
  start: number,
  end: number,
  memo: TopicMemo | undefined,
): string | undefined {
  const known = memo?.bytes;
  if (known !== undefined && known.length === end - start) {
    let i = 0;
    while (i < known.length && known[i] === buf[start + i]) i++;
    if (i === known.length) return (memo as TopicMemo).text;
  }
  const bytes = buf.subarray(start, end);
  if (!isUtf8(bytes)) return undefined;
  const text = bytes.toString("utf8");
  if (memo !== undefined && bytes.length <= MEMO_MAX_TOPIC_BYTES) {
    memo.bytes = Buffer.from(bytes);
    memo.text = text;
  }
  return text;
}

/**
 * PINGREQ, and DISCONNECT before MQTT 5 (a v5 one may carry a reason code),
 * when they are the two bytes they must be: as mqtt-packet makes them.
 */
function decodeEmpty(
  buf: Buffer,
  at: number,
  first: number,
  version: ProtocolVersion,
): Decoded | undefined {
  if (buf[at + 1] !== 0 || (first & 0x0f) !== 0) return undefined;
  if (first >> 4 === DISCONNECT && version === 5) return undefined;
  const packet = {
    cmd: first >> 4 === PINGREQ ? "pingreq" : "disconnect",
    retain: false,
    qos: 0,
    dup: false,
    topic: null,
    payload: null,
  } as unknown as MqttPacket;
  return { packet, end: at + 2, bytes: 2 };
}

/** mqtt-packet's ack from a header and a packet id (MQTT 5: reason code 0 when absent). */
function decodeAck(
  buf: Buffer,
  first: number,
  type: 4 | 5 | 6 | 7,
  start: number,
  remaining: number,
  version: ProtocolVersion,
): MqttPacket | undefined {
  // [MQTT-2.2.2-1] PUBREL's flags are 0010, the others' 0000.
  if ((first & 0x0f) !== (type === PUBREL ? 2 : 0) || remaining !== 2) return undefined;
  const packet = {
    cmd: ACK_COMMANDS[type],
    retain: false,
    qos: (first >> 1) & 3,
    dup: false,
    topic: null,
    payload: null,
  } as unknown as MqttPacket & { reasonCode?: number; packetId?: number };
  if (version === 5) packet.reasonCode = 0;
  packet.packetId = buf.readUInt16BE(start);
  return packet;
}

/**
 * The bytes of a PUBLISH without MQTT 5 properties (the caller has checked
 * that; v5 gets an empty property block), or undefined when the general
 * path must do it (a string payload, no packet id at QoS 1/2, too large).
 */
export function encodePublishFast(
  publish: {
    topic: string;
    payload: Buffer | string;
    qos: number;
    retain: boolean;
    dup: boolean;
    packetId?: number | undefined;
  },
  version: ProtocolVersion,
): Buffer | undefined {
  const { topic, payload, qos } = publish;
  if (typeof payload === "string") return undefined;
  if (qos > 0 && (publish.packetId === undefined || publish.packetId === 0)) return undefined;
  const topicBytes = Buffer.byteLength(topic);
  if (topicBytes > 0xffff) return undefined;
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) return undefined;
  const out = Buffer.allocUnsafe(wireBytes(remaining));
  out[0] = 0x30 | (publish.dup ? 8 : 0) | (qos << 1) | (publish.retain ? 1 : 0);
  let at = 1;
  let rest = remaining;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out[at++] = byte;
  } while (rest > 0);
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(topic, at, "utf8");
  if (qos > 0) {
    out.writeUInt16BE(publish.packetId as number, at);
    at += 2;
  }
  if (version === 5) out[at++] = 0;
  out.set(payload, at);
  return out;
}
