// Reads closed segments back from disk for the commit log, when a reader asks
// for records older than the memory cache. Reading and checking happen off
// the event loop's critical path: the file is read asynchronously and the
// scan yields to the event loop every SCAN_SLICE_BYTES, so a lagging reader
// never stalls the others. Loaded segments are kept in a small LRU.
//
// Called only by CommitLog. Never returns a damaged record: damaged ranges are
// reported through onCorruption and left as holes.

import { readFile } from "node:fs/promises";
import { StorageError } from "./errors.ts";
import {
  checkSegmentHeader,
  type DamagedRange,
  SEGMENT_HEADER_SIZE,
  scanClosedSegment,
} from "./record-format.ts";
import type { Segment } from "./segment.ts";
import { SegmentRecords } from "./segment-records.ts";
import type { CorruptionEvent } from "./types.ts";

/** Older segments read back from disk that stay loaded, besides the cached recent ones. */
export const DISK_LOADED_SEGMENTS = 2;

export class SegmentLoader {
  readonly #onCorruption: ((event: CorruptionEvent) => void) | undefined;
  /** Loaded segments, least recently used first. */
  readonly #loaded = new Map<Segment, SegmentRecords>();
  readonly #loading = new Map<Segment, Promise<SegmentRecords>>();

  constructor(onCorruption: ((event: CorruptionEvent) => void) | undefined) {
    this.#onCorruption = onCorruption;
  }

  /** The records of a loaded segment, marking it recently used. */
  get(segment: Segment): SegmentRecords | undefined {
    const records = this.#loaded.get(segment);
    if (records === undefined) return undefined;
    this.#loaded.delete(segment);
    this.#loaded.set(segment, records);
    return records;
  }

  forget(segment: Segment): void {
    this.#loaded.delete(segment);
  }

  /**
   * Reads a closed segment (once, however many readers ask at the same time).
   * When `pin()` says the segment is one the memory cache holds anyway, its
   * records go to the segment itself; otherwise into the LRU.
   */
  load(segment: Segment, pin: () => boolean): Promise<SegmentRecords> {
    let loading = this.#loading.get(segment);
    if (loading === undefined) {
      loading = this.#read(segment, pin).finally(() => this.#loading.delete(segment));
      this.#loading.set(segment, loading);
    }
    return loading;
  }

  async #read(segment: Segment, pin: () => boolean): Promise<SegmentRecords> {
    let buf: Buffer;
    try {
      buf = await readFile(segment.path);
    } catch (err) {
      // A file that vanished is damage unless retention deleted the segment.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new StorageError("ERR_STORAGE_IO", `cannot read ${segment.path}`, { cause: err });
      }
      buf = Buffer.alloc(0);
    }
    const records = new SegmentRecords(segment.baseOffset, segment.count);
    if (segment.deleted) return records;
    const header = checkSegmentHeader(buf);
    const headerOk =
      !segment.headerDamaged && header.kind === "ok" && header.baseOffset === segment.baseOffset;
    const scan = headerOk
      ? await scanClosedSegment(buf, SEGMENT_HEADER_SIZE, segment.baseOffset, segment.endOffset)
      : {
          positions: new Array<number>(segment.count).fill(-1),
          damaged: segment.count > 0 ? [wholeSegment(segment)] : [],
        };
    for (const position of scan.positions) records.push(position);
    records.addChunk(0, buf);
    for (const range of scan.damaged) {
      this.#onCorruption?.({ segment: segment.path, ...range });
    }
    if (segment.deleted) return records;
    if (pin()) {
      segment.records = records;
    } else {
      this.#loaded.set(segment, records);
      while (this.#loaded.size > DISK_LOADED_SEGMENTS) {
        this.#loaded.delete(this.#loaded.keys().next().value as Segment);
      }
    }
    return records;
  }
}

function wholeSegment(segment: Segment): DamagedRange {
  return { position: 0, firstOffset: segment.baseOffset, lastOffset: segment.endOffset - 1 };
}
