// One segment file of the commit log, as the log sees it in memory: where it
// starts, how many records it holds, and (when cached) the records themselves.
// The file I/O helpers here are small and shared by the log and its recovery.
//
// Invariants:
// - A closed segment's count is the next segment's base offset minus its own.
// - `records`, when present, has exactly `count` slots once every appended
//   record is in it; a slot is empty only where the record on disk was damaged.

import { writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { SegmentRecords } from "./segment-records.ts";

export class Segment {
  readonly baseOffset: number;
  readonly path: string;
  /** Bytes the file holds once every appended record is written, header included. */
  size: number;
  /** Records in this segment (appended ones included for the active segment). */
  count: number;
  /** The records, when held in memory; null when only on disk. */
  records: SegmentRecords | null;
  /** Whether the file exists on disk with a valid header. */
  created: boolean;
  /** The header on disk is damaged: none of its records can be read. */
  headerDamaged = false;
  /** Removed from the log (retention); its file is deleted or about to be. */
  deleted = false;

  constructor(
    baseOffset: number,
    path: string,
    init: { size: number; count: number; records: SegmentRecords | null },
    created: boolean,
  ) {
    this.baseOffset = baseOffset;
    this.path = path;
    this.size = init.size;
    this.count = init.count;
    this.records = init.records;
    this.created = created;
  }

  get endOffset(): number {
    return this.baseOffset + this.count;
  }
}

/** Writes every byte of `buffer` at the end of an append-mode file. */
export async function writeAll(handle: FileHandle, buffer: Buffer): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, null);
    done += bytesWritten;
  }
}

/** Writes all of `buffer` at the file position of `fd`, on the calling thread. */
export function writeAllSync(fd: number, buffer: Buffer): void {
  let done = 0;
  while (done < buffer.length) done += writeSync(fd, buffer, done, buffer.length - done);
}

/** Makes a directory entry (a file just created or renamed in it) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the first `length` bytes of a file (fewer if it is shorter). */
export async function readPrefix(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
