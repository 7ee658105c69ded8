// The on-disk layout of segment files and records, and the pure functions that
// encode and scan them. See FORMAT.md for the layout and the fault model.
// Nothing here does I/O.
//
// Invariants:
// - A record is returned by a scan only if its length is in range, its CRC32
//   matches, its format version is known and its stored offset is the one
//   expected at its place in the segment.
// - encodeRecord's output always checks out and decodes to the same record.

import assert from "node:assert/strict";
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import { crc32 } from "node:zlib";
import type { LogRecord, RecordInput } from "./types.ts";

export const SEGMENT_MAGIC = 0x4c514d52; // "RMQL" read as a little-endian u32
export const SEGMENT_FORMAT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 20;
export const RECORD_FORMAT_VERSION = 1;
/** length (4) + crc (4) + version (1) + flags (1) + topic length (2) + offset (8) + 2 x f64 */
export const RECORD_HEADER_SIZE = 36;
/** A record larger than this is refused on append and treated as damage on read. */
export const MAX_RECORD_SIZE = 256 * 1024 * 1024;
const MAX_TOPIC_BYTES = 0xffff;
/** Bytes a closed-segment scan checks before it yields to the event loop. */
const SCAN_SLICE_BYTES = 1 << 20;
const FLAG_QOS_MASK = 0b011;
const FLAG_RETAIN = 0b100;
const FLAG_EXPIRY = 0b1000;
const TWO_32 = 2 ** 32;

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, "0")}.seg`;
}

/** The base offset named by a segment file name, or undefined for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  if (match?.[1] === undefined) return undefined;
  const base = Number(match[1]);
  return Number.isSafeInteger(base) ? base : undefined;
}

export function encodeSegmentHeader(baseOffset: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE);
  header.writeUInt32LE(SEGMENT_MAGIC, 0);
  header.writeUInt16LE(SEGMENT_FORMAT_VERSION, 4);
  header.writeUInt16LE(SEGMENT_HEADER_SIZE, 6);
  writeOffset(header, 8, baseOffset);
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16);
  return header;
}

export type SegmentHeaderCheck =
  | { kind: "ok"; baseOffset: number }
  /** Shorter than a header: a segment whose creation was cut short. */
  | { kind: "short" }
  /** Wrong magic, CRC or size: not a header we wrote, or a damaged one. */
  | { kind: "damaged" }
  /** A valid header of a format version this code does not know. */
  | { kind: "unknown-version"; version: number };

export function checkSegmentHeader(buf: Buffer): SegmentHeaderCheck {
  if (buf.length < SEGMENT_HEADER_SIZE) return { kind: "short" };
  if (buf.readUInt32LE(0) !== SEGMENT_MAGIC) return { kind: "damaged" };
  if (buf.readUInt32LE(16) !== crc32(buf.subarray(0, 16))) return { kind: "damaged" };
  const version = buf.readUInt16LE(4);
  if (version !== SEGMENT_FORMAT_VERSION) return { kind: "unknown-version", version };
  if (buf.readUInt16LE(6) !== SEGMENT_HEADER_SIZE) return { kind: "damaged" };
  return { kind: "ok", baseOffset: readOffset(buf, 8) };
}

/** Bytes a record takes in a segment, header included. */
export function encodedSize(record: RecordInput): number {
  return RECORD_HEADER_SIZE + Buffer.byteLength(record.topic) + record.body.length;
}

/** Encodes one record (checking its fields first). */
export function encodeRecord(offset: number, input: RecordInput): Buffer {
  const topicBytes = Buffer.byteLength(input.topic);
  assert.ok(topicBytes <= MAX_TOPIC_BYTES, "topic longer than 65,535 bytes");
  assert.ok(input.qos === 0 || input.qos === 1 || input.qos === 2, "qos must be 0, 1 or 2");
  assert.ok(Number.isSafeInteger(offset) && offset >= 0, "offset must be a safe integer");
  assert.ok(Number.isFinite(input.timestampMs), "timestampMs must be finite");
  assert.ok(input.expiresAtMs === null || Number.isFinite(input.expiresAtMs));
  const size = RECORD_HEADER_SIZE + topicBytes + input.body.length;
  assert.ok(size <= MAX_RECORD_SIZE, "record larger than MAX_RECORD_SIZE");
  const bytes = Buffer.allocUnsafe(size);
  bytes.writeUInt32LE(size - 4, 0);
  bytes.writeUInt8(RECORD_FORMAT_VERSION, 8);
  let flags = input.qos;
  if (input.retain) flags |= FLAG_RETAIN;
  if (input.expiresAtMs !== null) flags |= FLAG_EXPIRY;
  bytes.writeUInt8(flags, 9);
  bytes.writeUInt16LE(topicBytes, 10);
  writeOffset(bytes, 12, offset);
  bytes.writeDoubleLE(input.timestampMs, 20);
  bytes.writeDoubleLE(input.expiresAtMs ?? 0, 28);
  bytes.write(input.topic, RECORD_HEADER_SIZE, topicBytes, "utf8");
  bytes.set(input.body, RECORD_HEADER_SIZE + topicBytes);
  bytes.writeUInt32LE(crc32(bytes.subarray(8)), 4);
  return bytes;
}

export type RecordCheck =
  | { kind: "ok"; offset: number; size: number }
  /** The buffer ends inside the record: a torn write. */
  | { kind: "torn" }
  /** The record is complete but wrong: bad length, CRC, version or offset. */
  | { kind: "damaged" };

/**
 * Checks the record at `position`, which must hold offset `expectedOffset`
 * (or, when `expectedOffset` is a range, any offset in it): length, version,
 * offset, flags and CRC. Decodes nothing (see decodeRecord).
 */
export function checkRecord(
  buf: Buffer,
  position: number,
  expectedOffset: number | { min: number; max: number },
): RecordCheck {
  if (buf.length - position < 4) return { kind: "torn" };
  const length = buf.readUInt32LE(position);
  if (length < RECORD_HEADER_SIZE - 4 || length > MAX_RECORD_SIZE) return { kind: "damaged" };
  if (buf.length - position < 4 + length) return { kind: "torn" };
  const end = position + 4 + length;
  if (buf.readUInt8(position + 8) !== RECORD_FORMAT_VERSION) return { kind: "damaged" };
  const offset = readOffset(buf, position + 12);
  if (typeof expectedOffset === "number") {
    if (offset !== expectedOffset) return { kind: "damaged" };
  } else if (offset < expectedOffset.min || offset > expectedOffset.max) {
    return { kind: "damaged" };
  }
  const topicBytes = buf.readUInt16LE(position + 10);
  if (RECORD_HEADER_SIZE + topicBytes > 4 + length) return { kind: "damaged" };
  if ((buf.readUInt8(position + 9) & FLAG_QOS_MASK) === 3) return { kind: "damaged" };
  if (buf.readUInt32LE(position + 4) !== crc32(buf.subarray(position + 8, end))) {
    return { kind: "damaged" };
  }
  return { kind: "ok", offset, size: 4 + length };
}

/**
 * Decodes the record at `position`, which checkRecord (or encodeRecord) has
 * vouched for. The body is a view into `buf`.
 */
export function decodeRecord(buf: Buffer, position: number): LogRecord {
  const end = position + 4 + buf.readUInt32LE(position);
  const flags = buf[position + 9] as number;
  const topicStart = position + RECORD_HEADER_SIZE;
  const topicEnd = topicStart + buf.readUInt16LE(position + 10);
  return {
    offset: readOffset(buf, position + 12),
    topic: buf.toString("utf8", topicStart, topicEnd),
    qos: (flags & FLAG_QOS_MASK) as 0 | 1 | 2,
    retain: (flags & FLAG_RETAIN) !== 0,
    timestampMs: buf.readDoubleLE(position + 20),
    expiresAtMs: (flags & FLAG_EXPIRY) !== 0 ? buf.readDoubleLE(position + 28) : null,
    body: buf.subarray(topicEnd, end),
  };
}

/** The encoded size of the record at `position` (length field included). */
export function recordSizeAt(buf: Buffer, position: number): number {
  return 4 + buf.readUInt32LE(position);
}

export interface TailScan {
  /** Byte positions of the good records, in offset order from firstOffset. */
  positions: number[];
  /** Byte position just after the last good record. */
  goodEnd: number;
  /** Why the scan stopped before the end of the buffer, if it did. */
  stop: "end" | "torn" | "damaged";
}

/**
 * Scans records from `position` with dense offsets from `firstOffset`,
 * stopping at the first record that is torn or damaged. Used on the active
 * segment at recovery, where everything after the first bad record is cut.
 */
export function scanTail(buf: Buffer, position: number, firstOffset: number): TailScan {
  const positions: number[] = [];
  let at = position;
  while (at < buf.length) {
    const check = checkRecord(buf, at, firstOffset + positions.length);
    if (check.kind !== "ok") return { positions, goodEnd: at, stop: check.kind };
    positions.push(at);
    at += check.size;
  }
  return { positions, goodEnd: at, stop: "end" };
}

export interface DamagedRange {
  position: number;
  firstOffset: number;
  lastOffset: number;
}

export interface SegmentScan {
  /** Index i: the byte position of offset firstOffset + i, or -1 where damaged or missing. */
  positions: number[];
  damaged: DamagedRange[];
}

/**
 * Scans a closed segment that should hold offsets [firstOffset, endOffset).
 * Unlike scanTail it resynchronises after damage: first where the damaged
 * record's length field points, then by searching forward for the next record
 * that checks out with an offset in range, so one flipped byte costs one
 * record, not the rest of the segment. Offsets it cannot find are reported
 * as damaged ranges.
 */
export async function scanClosedSegment(
  buf: Buffer,
  position: number,
  firstOffset: number,
  endOffset: number,
): Promise<SegmentScan> {
  const positions: number[] = new Array(endOffset - firstOffset).fill(-1);
  const damaged: DamagedRange[] = [];
  let at = position;
  let expected = firstOffset;
  let nextYield = position + SCAN_SLICE_BYTES;
  while (expected < endOffset) {
    if (at >= nextYield) {
      // A segment can be large: let other work run between slices.
      await setImmediatePromise();
      nextYield = at + SCAN_SLICE_BYTES;
    }
    const check = at < buf.length ? checkRecord(buf, at, expected) : ({ kind: "torn" } as const);
    if (check.kind === "ok") {
      positions[expected - firstOffset] = at;
      expected += 1;
      at += check.size;
      continue;
    }
    const found =
      skipByLength(buf, at, expected + 1) ?? resync(buf, at + 1, expected + 1, endOffset - 1);
    const resumeOffset = found?.offset ?? endOffset;
    damaged.push({ position: at, firstOffset: expected, lastOffset: resumeOffset - 1 });
    if (found === undefined) break;
    at = found.position;
    expected = resumeOffset;
  }
  return { positions, damaged };
}

interface Found {
  position: number;
  offset: number;
}

/** The record right after a damaged one, when the damaged record's length field is intact. */
function skipByLength(buf: Buffer, at: number, nextOffset: number): Found | undefined {
  if (buf.length - at < 4) return undefined;
  const next = at + 4 + buf.readUInt32LE(at);
  if (next >= buf.length) return undefined;
  const check = checkRecord(buf, next, nextOffset);
  return check.kind === "ok" ? { position: next, offset: check.offset } : undefined;
}

function resync(
  buf: Buffer,
  from: number,
  minOffset: number,
  maxOffset: number,
): Found | undefined {
  if (minOffset > maxOffset) return undefined;
  for (let at = from; at + RECORD_HEADER_SIZE <= buf.length; at += 1) {
    // Cheap checks first: the version byte, then the CRC inside checkRecord.
    if (buf[at + 8] !== RECORD_FORMAT_VERSION) continue;
    const check = checkRecord(buf, at, { min: minOffset, max: maxOffset });
    if (check.kind === "ok") return { position: at, offset: check.offset };
  }
  return undefined;
}

function writeOffset(buf: Buffer, at: number, offset: number): void {
  buf.writeUInt32LE(offset % TWO_32, at);
  buf.writeUInt32LE(Math.floor(offset / TWO_32), at + 4);
}

function readOffset(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32;
}
