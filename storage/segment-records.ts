// The records of one segment held in memory, compactly: the encoded bytes
// exactly as they are (or will be) on disk, in a few large chunks, plus one
// byte position per record. A LogRecord object is made only when a record is
// read, so the memory a cached record costs is its encoded size plus 8 bytes.
//
// Who uses it: the commit log (the active segment and the cached closed ones,
// filled as batches are written) and the segment loader (segments read back
// from disk, one chunk for the whole file).
//
// Invariants:
// - positions ascend, except for -1 marking a damaged or missing record;
// - a record's bytes lie wholly inside one chunk.

import assert from "node:assert/strict";
import { decodeRecord, recordSizeAt } from "./record-format.ts";
import type { LogRecord } from "./types.ts";

const INITIAL_CAPACITY = 256;

export class SegmentRecords {
  readonly baseOffset: number;
  #positions: Float64Array;
  #length = 0;
  /** Chunks of the segment's bytes and the byte position each starts at, ascending. */
  readonly #chunks: Buffer[] = [];
  readonly #chunkStarts: number[] = [];

  constructor(baseOffset: number, capacity = INITIAL_CAPACITY) {
    this.baseOffset = baseOffset;
    this.#positions = new Float64Array(Math.max(1, capacity));
  }

  /** Record slots known (damaged ones included). */
  get length(): number {
    return this.#length;
  }

  /** Adds the next record's byte position in the segment (-1: damaged or missing). */
  push(position: number): void {
    if (this.#length === this.#positions.length) {
      const grown = new Float64Array(this.#positions.length * 2);
      grown.set(this.#positions);
      this.#positions = grown;
    }
    this.#positions[this.#length] = position;
    this.#length += 1;
  }

  /** Adds bytes of the segment starting at byte position `start`. */
  addChunk(start: number, bytes: Buffer): void {
    const last = this.#chunkStarts.length - 1;
    assert.ok(
      last < 0 ||
        start >= (this.#chunkStarts[last] as number) + (this.#chunks[last] as Buffer).length,
      "chunks are added in position order",
    );
    this.#chunks.push(bytes);
    this.#chunkStarts.push(start);
  }

  /** The record at `offset`, or undefined when it is damaged or missing. */
  get(offset: number): LogRecord | undefined {
    const located = this.#locate(offset);
    return located === undefined ? undefined : decodeRecord(located.chunk, located.at);
  }

  /** The encoded size of the record at `offset` (0 when damaged or missing). */
  sizeOf(offset: number): number {
    const located = this.#locate(offset);
    return located === undefined ? 0 : recordSizeAt(located.chunk, located.at);
  }

  #locate(offset: number): { chunk: Buffer; at: number } | undefined {
    const index = offset - this.baseOffset;
    if (index < 0 || index >= this.#length) return undefined;
    const position = this.#positions[index] as number;
    if (position < 0) return undefined;
    // The chunk holding `position`: the last one starting at or before it.
    let lo = 0;
    let hi = this.#chunkStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#chunkStarts[mid] as number) <= position) lo = mid;
      else hi = mid - 1;
    }
    const chunk = this.#chunks[lo];
    assert.ok(chunk !== undefined, "a committed record's chunk is in memory");
    return { chunk, at: position - (this.#chunkStarts[lo] as number) };
  }
}
