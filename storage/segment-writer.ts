// Writes batches of encoded records to segment files for the commit log: it
// keeps the one file being appended to open, creates new segment files
// (header first), syncs according to the sync mode and deletes retired
// segments. Called only by CommitLog, one call at a time.
//
// Invariants:
// - With sync "fsync", a write() resolves only after fdatasync of every
//   segment it wrote to, and a new segment's directory entry is synced.
// - A segment file is created once ("wx"): an existing file of that name is
//   an error, never overwritten.
// - Record bytes go to an open file with a synchronous write (a copy into the
//   page cache, a few microseconds, cheaper than a thread-pool round trip);
//   opening, creating, syncing and deleting files stay asynchronous.

import type { FileHandle } from "node:fs/promises";
import { open, unlink } from "node:fs/promises";
import { encodeSegmentHeader } from "./record-format.ts";
import { type Segment, syncDirectory, writeAll, writeAllSync } from "./segment.ts";
import type { CommitLogStats, SyncMode } from "./types.ts";

/** Encoded records bound for one segment, in append order. */
export interface Chunk {
  segment: Segment;
  /** The byte position in the segment where the first buffer goes. */
  start: number;
  buffers: Buffer[];
}

export class SegmentWriter {
  readonly #dir: string;
  readonly #sync: SyncMode;
  readonly stats: CommitLogStats = { batches: 0, syncs: 0, bytesWritten: 0 };
  #handle: FileHandle | null = null;
  #handleSegment: Segment | null = null;

  constructor(dir: string, sync: SyncMode) {
    this.#dir = dir;
    this.#sync = sync;
  }

  /** Writes one batch: each chunk with one write, then one sync (with "fsync"). */
  async write(chunks: readonly Chunk[]): Promise<void> {
    let wrote = false;
    for (const chunk of chunks) {
      if (chunk.segment.deleted) continue;
      const handle = await this.#handleFor(chunk.segment);
      this.#writeChunk(handle, chunk);
      wrote = true;
    }
    if (!wrote) return;
    this.stats.batches += 1;
    if (this.#sync === "fsync" && this.#handle !== null) {
      await this.#handle.datasync();
      this.stats.syncs += 1;
    }
  }

  /**
   * With sync "os": writes one batch at once, on the calling thread, when
   * every chunk goes to the file already open (or to a deleted segment).
   * Returns false, having written nothing, when a file must be opened or
   * created first, or with sync "fsync"; the caller then uses write().
   */
  writeNow(chunks: readonly Chunk[]): boolean {
    const handle = this.#handle;
    if (this.#sync !== "os" || handle === null) return false;
    for (const chunk of chunks) {
      if (!chunk.segment.deleted && chunk.segment !== this.#handleSegment) return false;
    }
    let wrote = false;
    for (const chunk of chunks) {
      if (chunk.segment.deleted) continue;
      this.#writeChunk(handle, chunk);
      wrote = true;
    }
    if (wrote) this.stats.batches += 1;
    return true;
  }

  #writeChunk(handle: FileHandle, chunk: Chunk): void {
    const buffer =
      chunk.buffers.length === 1 ? (chunk.buffers[0] as Buffer) : Buffer.concat(chunk.buffers);
    writeAllSync(handle.fd, buffer);
    this.stats.bytesWritten += buffer.length;
    // The written bytes become the memory cache's copy of these records.
    chunk.segment.records?.addChunk(chunk.start, buffer);
  }

  /** Deletes the files of retired segments (closing the open one if it is among them). */
  async delete(segments: readonly Segment[]): Promise<void> {
    for (const segment of segments) {
      if (this.#handleSegment === segment) await this.#closeHandle(false);
      if (!segment.created) continue;
      try {
        await unlink(segment.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  }

  /** Closes the open file, syncing it first unless `sync` is false. */
  async close(sync: boolean): Promise<void> {
    await this.#closeHandle(sync);
  }

  /** The open file of `segment`, creating it (header first) when new. */
  async #handleFor(segment: Segment): Promise<FileHandle> {
    if (this.#handleSegment === segment && this.#handle !== null) return this.#handle;
    await this.#closeHandle(this.#sync === "fsync");
    let handle: FileHandle;
    if (segment.created) {
      handle = await open(segment.path, "a");
    } else {
      handle = await open(segment.path, "wx");
      await writeAll(handle, encodeSegmentHeader(segment.baseOffset));
      segment.created = true;
      if (this.#sync === "fsync") await syncDirectory(this.#dir);
    }
    this.#handle = handle;
    this.#handleSegment = segment;
    return handle;
  }

  async #closeHandle(sync: boolean): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    this.#handleSegment = null;
    if (handle === null) return;
    try {
      if (sync) {
        await handle.datasync();
        this.stats.syncs += 1;
      }
    } finally {
      await handle.close();
    }
  }
}
