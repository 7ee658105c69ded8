// What the router moves around: an application message (topic, QoS, payload
// and the MQTT 5 properties that travel with it) and how it is packed into a
// commit-log record's opaque body.
//
// Body layout, format version 1 (all integers big-endian):
//   u8  format version (1)
//   u32 length N of the properties block
//   N   properties as UTF-8 JSON (Buffers as base64 strings), N = 0 when none
//   ... payload bytes
// Format version 2 is version 1 with the origin of an inbound QoS 2 message
// between the version byte and the properties length:
//   u16 length C, C bytes of the publisher's client id (UTF-8), u16 its packet id
// so that a restart can find the packet ids whose index entry a kill lost.
// Format version 3 is version 1 with the publisher's client id only:
//   u16 length C, C bytes of the publisher's client id (UTF-8)
// so that a No Local subscription ([MQTT-3.8.3-3]) can tell its own client's
// messages, also after a restart. Every message published by a client gets
// version 2 or 3; version 1 is what older logs and stored bodies hold.
// The header fields the storage engine keeps beside the body (topic, qos,
// retain, timestamp, expiry) are not repeated here.
// In the properties JSON, `userProperties` is a list of [name, value] pairs
// in wire order ([MQTT-3.3.2-18]); bodies written before that hold
// mqtt-packet's object form ({ name: value | value[] }), read as its pairs in
// key order, so old logs stay readable without a new format version.

import assert from "node:assert/strict";
import type { PublishTemplates } from "../protocol/index.ts";

export type Qos = 0 | 1 | 2;

/** A user property, in the order the publisher sent it. */
export type UserProperty = [name: string, value: string];

/** MQTT 5 publish properties that are forwarded to subscribers unchanged. */
export interface ForwardedProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperty[];
}

export interface Message {
  topic: string;
  qos: Qos;
  retain: boolean;
  payload: Buffer;
  properties?: ForwardedProperties;
  /** MQTT 5 message expiry, ms since the epoch; null = never. */
  expiresAtMs: number | null;
  /** The client id of the connection that published it (for No Local), if a client did. */
  publisherId?: string;
}

/**
 * What a PUBLISH to a subscriber carries besides the forwarded properties:
 * the subscription identifiers of the matching subscriptions ([MQTT-3.3.4-3])
 * and the message expiry interval left ([MQTT-3.3.2-6]).
 */
export interface OutgoingProperties extends ForwardedProperties {
  subscriptionIdentifier?: number | number[];
  messageExpiryInterval?: number;
}

/** A message on its way to one subscriber. */
export interface OutgoingPublish {
  topic: string;
  qos: Qos;
  retain: boolean;
  dup: boolean;
  payload: Buffer;
  /** Present when qos > 0. */
  packetId?: number;
  properties?: OutgoingProperties;
  /**
   * The message's encoded bytes, shared by every delivery of it. Used by the
   * link only while topic, payload and properties are the objects they were
   * made from: a delivery with per-subscriber properties makes a new
   * properties object (or leaves this out) and is encoded on its own.
   */
  templates?: PublishTemplates | undefined;
}

const BODY_FORMAT_VERSION = 1;
const BODY_FORMAT_WITH_ORIGIN = 2;
const BODY_FORMAT_WITH_PUBLISHER = 3;
const HEADER_BYTES = 5;

/** Who published an inbound QoS 2 message, and with which packet id. */
export interface Origin {
  clientId: string;
  packetId: number;
}

/**
 * The header of the last format 3 body encoded (a view into that body) and
 * the publisher it names: a publisher's messages come in runs (one socket
 * read holds many), so the next body copies it rather than encoding the
 * client id again.
 */
let lastPublisher: string | undefined;
let lastPublisherHeader: Buffer | undefined;

/**
 * `origin` (an inbound QoS 2 message of a stored session) gives format 2, a
 * publisher's client id (`{ publisherId }` or the string) format 3, neither
 * format 1. The payload is the body's last bytes.
 */
export function encodeBody(
  payload: Buffer,
  properties: ForwardedProperties | undefined,
  origin?: Origin | { publisherId: string } | string,
): Buffer {
  if (typeof origin === "string" && (properties === undefined || isEmpty(properties))) {
    return encodePublishedBody(payload, origin);
  }
  if (typeof origin === "string") return encodeBody(payload, properties, { publisherId: origin });
  let props: Buffer | undefined;
  if (properties !== undefined && Object.keys(properties).length > 0) {
    const json: Record<string, unknown> = { ...properties };
    if (properties.correlationData !== undefined) {
      json.correlationData = properties.correlationData.toString("base64");
    }
    props = Buffer.from(JSON.stringify(json), "utf8");
  }
  const propsLength = props === undefined ? 0 : props.length;
  const withPacketId = origin !== undefined && "packetId" in origin;
  const id =
    origin === undefined ? "" : "packetId" in origin ? origin.clientId : origin.publisherId;
  const idBytes = origin === undefined ? 0 : Buffer.byteLength(id, "utf8");
  assert.ok(idBytes <= 0xffff, "client id too long for a message body");
  const originBytes = origin === undefined ? 0 : 2 + idBytes + (withPacketId ? 2 : 0);
  // One buffer, written in order (every body is built on the publish path).
  const out = Buffer.allocUnsafe(HEADER_BYTES + originBytes + propsLength + payload.length);
  out[0] =
    origin === undefined
      ? BODY_FORMAT_VERSION
      : withPacketId
        ? BODY_FORMAT_WITH_ORIGIN
        : BODY_FORMAT_WITH_PUBLISHER;
  let at = 1;
  if (origin !== undefined) {
    out.writeUInt16BE(idBytes, at);
    at += 2;
    at += out.write(id, at, "utf8");
    if ("packetId" in origin) {
      assert.ok(origin.packetId > 0 && origin.packetId <= 0xffff, "packet id out of range");
      out.writeUInt16BE(origin.packetId, at);
      at += 2;
    }
  }
  out.writeUInt32BE(propsLength, at);
  at += 4;
  if (props !== undefined) at += props.copy(out, at);
  payload.copy(out, at);
  return out;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/** A format 3 body without properties (the publish path's common case). */
function encodePublishedBody(payload: Buffer, publisherId: string): Buffer {
  const known = publisherId === lastPublisher ? lastPublisherHeader : undefined;
  const originBytes =
    known === undefined ? 2 + Buffer.byteLength(publisherId, "utf8") : known.length - 1;
  assert.ok(originBytes <= 2 + 0xffff, "client id too long for a message body");
  const out = Buffer.allocUnsafe(HEADER_BYTES + originBytes + payload.length);
  let at: number;
  if (known !== undefined) {
    out.set(known, 0);
    at = known.length;
  } else {
    out[0] = BODY_FORMAT_WITH_PUBLISHER;
    out.writeUInt16BE(originBytes - 2, 1);
    at = 3 + out.write(publisherId, 3, "utf8");
    lastPublisher = publisherId;
    lastPublisherHeader = out.subarray(0, at);
  }
  out.writeUInt32BE(0, at);
  out.set(payload, at + 4);
  return out;
}

/** The client id of the publisher a body names (format 2 or 3), or undefined. */
export function publisherOf(body: Uint8Array): string | undefined {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 3) return undefined;
  const format = buf.readUInt8(0);
  if (format !== BODY_FORMAT_WITH_ORIGIN && format !== BODY_FORMAT_WITH_PUBLISHER) return undefined;
  return buf.toString("utf8", 3, 3 + buf.readUInt16BE(1));
}

/** The origin a body carries (format version 2), or undefined. */
export function originOf(body: Uint8Array): Origin | undefined {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 1 || buf.readUInt8(0) !== BODY_FORMAT_WITH_ORIGIN) return undefined;
  const length = buf.readUInt16BE(1);
  return {
    clientId: buf.toString("utf8", 3, 3 + length),
    packetId: buf.readUInt16BE(3 + length),
  };
}

export function decodeBody(body: Uint8Array): {
  payload: Buffer;
  properties: ForwardedProperties | undefined;
} {
  let buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // The log has CRC-checked the record, so a bad header is a bug, not damage.
  assert.ok(buf.length >= HEADER_BYTES, "message body shorter than its header");
  const format = buf.readUInt8(0);
  if (format === BODY_FORMAT_WITH_ORIGIN || format === BODY_FORMAT_WITH_PUBLISHER) {
    // Skip the origin: from 4 + C on (2 + C for format 3), bytes 1..4 are the
    // properties length as in a version 1 body (byte 0 there is not read again).
    const skip = (format === BODY_FORMAT_WITH_ORIGIN ? 4 : 2) + buf.readUInt16BE(1);
    buf = buf.subarray(skip);
    assert.ok(buf.length >= HEADER_BYTES, "message body shorter than its header");
  } else {
    assert.equal(buf.readUInt8(0), BODY_FORMAT_VERSION, "unknown message body format");
  }
  const propsLength = buf.readUInt32BE(1);
  assert.ok(HEADER_BYTES + propsLength <= buf.length, "message body properties overrun");
  const payload = buf.subarray(HEADER_BYTES + propsLength);
  if (propsLength === 0) return { payload, properties: undefined };
  const json = JSON.parse(buf.toString("utf8", HEADER_BYTES, HEADER_BYTES + propsLength));
  const properties: ForwardedProperties = { ...json };
  if (typeof json.correlationData === "string") {
    properties.correlationData = Buffer.from(json.correlationData, "base64");
  }
  if (json.userProperties !== undefined && !Array.isArray(json.userProperties)) {
    properties.userProperties = pairsOfObject(json.userProperties);
  }
  return { payload, properties };
}

/** The pairs of the object form older bodies hold, in key order. */
function pairsOfObject(object: Record<string, string | string[]>): UserProperty[] {
  const out: UserProperty[] = [];
  for (const [name, value] of Object.entries(object)) {
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, v]);
  }
  return out;
}
