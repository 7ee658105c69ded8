// The commit log: one append-only sequence of records for the whole broker,
// stored in segment files, with group commit and a memory cache of the most
// recent segments. Called by the router (through storage/index.ts); knows
// nothing about MQTT. Must never return a record that is not committed, nor a
// damaged one, and must never resolve a commit after a failed write or fsync.
//
// Invariants:
// - startOffset <= committedOffset <= nextOffset; offsets are dense and only grow.
// - Segments are ordered by base offset, contiguous (each ends where the next
//   begins), and the last one is the only one appended to.
// - committedOffset only advances after every record below it is written (and,
//   with sync "fsync", fdatasync'ed) to its segment file.
// - At most one flush is in flight; chunks are written in append order.

import assert from "node:assert/strict";
import { join } from "node:path";
import { DirLock } from "./dir-lock.ts";
import { StorageError } from "./errors.ts";
import { collectRecords } from "./log-reader.ts";
import { encodeRecord, SEGMENT_HEADER_SIZE, segmentFileName } from "./record-format.ts";
import { recoverSegments } from "./recovery.ts";
import { Segment } from "./segment.ts";
import { SegmentLoader } from "./segment-loader.ts";
import { SegmentRecords } from "./segment-records.ts";
import { type Chunk, SegmentWriter } from "./segment-writer.ts";
import type {
  CommitLogOptions,
  CommitLogStats,
  LogRecord,
  RecordInput,
  RecoveryReport,
} from "./types.ts";

interface Waiter {
  target: number;
  resolve: (committed: number) => void;
  reject: (err: StorageError) => void;
}

export class CommitLog {
  readonly #options: CommitLogOptions;
  readonly #segments: Segment[];
  #nextOffset: number;
  #committedOffset: number;
  #pending: Chunk[] = [];
  #pendingDeletes: Segment[] = [];
  #waiters: Waiter[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | null = null;
  #failure: StorageError | null = null;
  #closed = false;
  readonly #writer: SegmentWriter;
  readonly #lock: DirLock;
  readonly #loader: SegmentLoader;

  private constructor(options: CommitLogOptions, segments: Segment[], lock: DirLock) {
    this.#lock = lock;
    this.#options = options;
    this.#segments = segments;
    this.#loader = new SegmentLoader(options.onCorruption);
    this.#writer = new SegmentWriter(options.dir, options.sync);
    const last = segments.at(-1) as Segment;
    this.#nextOffset = last.endOffset;
    this.#committedOffset = last.endOffset;
  }

  /** Opens (creating if needed) the log in `options.dir`, repairing a torn tail. */
  static async open(
    options: CommitLogOptions,
  ): Promise<{ log: CommitLog; report: RecoveryReport }> {
    assert.ok(Number.isSafeInteger(options.maxSegmentSize) && options.maxSegmentSize > 0);
    assert.ok(Number.isSafeInteger(options.maxSegmentCount) && options.maxSegmentCount >= 1);
    assert.ok(Number.isSafeInteger(options.cacheSegments) && options.cacheSegments >= 0);
    const lock = await DirLock.acquire(options.dir);
    let recovered: Awaited<ReturnType<typeof recoverSegments>>;
    try {
      recovered = await recoverSegments(options.dir, options.sync);
    } catch (err) {
      await lock.release();
      throw err;
    }
    const { segments, report } = recovered;
    const log = new CommitLog(options, segments, lock);
    log.#enforceBudget();
    await log.#drain();
    return { log, report };
  }

  /** The first offset the log still holds. */
  get startOffset(): number {
    return (this.#segments[0] as Segment).baseOffset;
  }

  /** The end of what is committed: records below it can be read. */
  get committedOffset(): number {
    return this.#committedOffset;
  }

  /** The offset the next appended record will get. */
  get nextOffset(): number {
    return this.#nextOffset;
  }

  /** Counters since open: write batches, fdatasync calls, bytes written to segments. */
  get stats(): Readonly<CommitLogStats> {
    return this.#writer.stats;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /**
   * Appends records and returns the offset of the first (the rest follow
   * densely). Synchronous: the records are written with everything else
   * appended in this turn of the event loop; `commit()` says when.
   */
  append(records: readonly RecordInput[]): number {
    this.#assertUsable();
    const first = this.#nextOffset;
    // Encode (and so check) every record before changing anything.
    const encoded = records.map((input, i) => encodeRecord(first + i, input));
    for (const bytes of encoded) {
      let active = this.#active();
      if (active.count > 0 && active.size + bytes.length > this.#options.maxSegmentSize) {
        active = this.#roll();
      }
      assert.ok(active.records !== null, "the active segment is always cached");
      active.records.push(active.size);
      const last = this.#pending.at(-1);
      if (last !== undefined && last.segment === active) last.buffers.push(bytes);
      else this.#pending.push({ segment: active, start: active.size, buffers: [bytes] });
      active.count += 1;
      active.size += bytes.length;
      this.#nextOffset += 1;
    }
    if (records.length > 0) this.#scheduleFlush();
    return first;
  }

  /**
   * Resolves when every record appended before this call is durable in the
   * configured sync mode, with the committed end offset. Rejects with a
   * StorageError (fatal for the caller) if a write or fsync failed.
   */
  commit(): Promise<number> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const target = this.#nextOffset;
    if (this.#committedOffset >= target) return Promise.resolve(this.#committedOffset);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
    });
  }

  /**
   * With sync "os": commits everything appended so far at once, on the
   * calling thread (one write to the open segment file), and returns true.
   * Returns false, having done nothing, when that needs the asynchronous
   * path (sync "fsync", a write in flight, a segment file to create, a
   * failed or closed log): use `commit()` then. Waiters of `commit()` that
   * this satisfies are resolved as usual.
   */
  commitNow(): boolean {
    if (this.#failure !== null || this.#closed) return false;
    if (this.#committedOffset >= this.#nextOffset) return true;
    if (this.#flushing !== null) return false;
    try {
      if (!this.#writer.writeNow(this.#pending)) return false;
    } catch (err) {
      this.#fail(err);
      return false;
    }
    this.#pending = [];
    this.#committedOffset = this.#nextOffset;
    this.#trimCache();
    this.#resolveWaiters();
    return true;
  }

  /**
   * Committed records from `fromOffset` on, in order: at least one when any
   * exists, then more while the total stays near `maxBytes`. Returns
   * undefined when they are not in memory (use `read`). Damaged records are
   * skipped; a `fromOffset` below `startOffset` reads from `startOffset`.
   */
  readCached(fromOffset: number, maxBytes: number): LogRecord[] | undefined {
    this.#assertUsable();
    const { records, missing } = this.#collect(fromOffset, maxBytes, null);
    return records.length === 0 && missing !== null ? undefined : records;
  }

  /** Like readCached, but reads older segments from disk (asynchronously) when needed. */
  async read(fromOffset: number, maxBytes: number): Promise<LogRecord[]> {
    // Segments loaded by this call: each pass loads a later one, so the loop ends.
    const loaded = new Map<Segment, SegmentRecords>();
    for (;;) {
      this.#assertUsable();
      const { records, missing } = this.#collect(fromOffset, maxBytes, loaded);
      if (records.length > 0 || missing === null) return records;
      if (loaded.has(missing)) return records;
      loaded.set(missing, await this.#loader.load(missing, () => this.#isRecent(missing)));
    }
  }

  /**
   * Deletes every closed segment whose records all lie below `offset`. The
   * active segment is never deleted. Resolves with the number deleted once
   * their files are gone.
   */
  async truncateBefore(offset: number): Promise<number> {
    this.#assertUsable();
    let count = 0;
    while (this.#segments.length > 1 && (this.#segments[1] as Segment).baseOffset <= offset) {
      this.#removeOldest();
      count += 1;
    }
    if (count > 0) this.#notifyDeleted(count, "truncate");
    await this.#drain();
    return count;
  }

  /** Writes and syncs what is pending, then closes the files. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#drain();
    this.#closed = true;
    try {
      await this.#writer.close(this.#failure === null);
    } finally {
      await this.#lock.release();
    }
  }

  #active(): Segment {
    return this.#segments.at(-1) as Segment;
  }

  #assertUsable(): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) throw new StorageError("ERR_STORAGE_CLOSED", "the commit log is closed");
  }

  /** Closes the active segment in memory and starts a new one; the files follow in the flush. */
  #roll(): Segment {
    const base = this.#nextOffset;
    const path = join(this.#options.dir, segmentFileName(base));
    const segment = new Segment(
      base,
      path,
      { size: SEGMENT_HEADER_SIZE, count: 0, records: new SegmentRecords(base) },
      false,
    );
    this.#segments.push(segment);
    this.#enforceBudget();
    return segment;
  }

  #enforceBudget(): void {
    let count = 0;
    while (this.#segments.length > this.#options.maxSegmentCount) {
      this.#removeOldest();
      count += 1;
    }
    if (count > 0) this.#notifyDeleted(count, "budget");
  }

  #removeOldest(): void {
    const segment = this.#segments.shift() as Segment;
    segment.deleted = true;
    segment.records = null;
    this.#loader.forget(segment);
    this.#pendingDeletes.push(segment);
    this.#scheduleFlush();
  }

  #notifyDeleted(segments: number, reason: "budget" | "truncate"): void {
    const callback = this.#options.onSegmentsDeleted;
    if (callback === undefined) return;
    const startOffset = this.startOffset;
    // Deferred so that the callback never runs inside append().
    queueMicrotask(() => callback({ startOffset, segments, reason }));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#flushing !== null) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#flushing !== null) return;
      // With sync "os" the records usually go out at once, on this thread.
      this.commitNow();
      // Only with work to do: a flush loop with none would end before
      // #flushing is set, and leave a settled promise there.
      const work = this.#pending.length > 0 || this.#pendingDeletes.length > 0;
      if (work && this.#failure === null) {
        this.#flushing = this.#flushLoop();
      }
    });
  }

  /** Resolves when nothing is pending or in flight. */
  async #drain(): Promise<void> {
    while (this.#flushing !== null || this.#pending.length > 0 || this.#pendingDeletes.length > 0) {
      if (this.#failure !== null) return;
      if (this.#flushing === null) this.#flushing = this.#flushLoop();
      await this.#flushing;
    }
  }

  /** Writes batches until nothing is pending. Never rejects: failures go to #fail. */
  async #flushLoop(): Promise<void> {
    try {
      while (
        this.#failure === null &&
        (this.#pending.length > 0 || this.#pendingDeletes.length > 0)
      ) {
        const chunks = this.#pending;
        const deletes = this.#pendingDeletes;
        const target = this.#nextOffset;
        this.#pending = [];
        this.#pendingDeletes = [];
        try {
          await this.#writer.write(chunks);
          await this.#writer.delete(deletes);
        } catch (err) {
          this.#fail(err);
          return;
        }
        this.#committedOffset = target;
        this.#trimCache();
        this.#resolveWaiters();
      }
    } finally {
      this.#flushing = null;
    }
  }

  /**
   * Lets go of the records of closed segments older than the cached ones.
   * Only once a segment is wholly written: until then the disk does not have
   * all of it, and a read must be served from memory.
   */
  #trimCache(): void {
    const oldestCached = this.#segments.length - 1 - this.#options.cacheSegments;
    for (let i = oldestCached - 1; i >= 0; i -= 1) {
      const segment = this.#segments[i] as Segment;
      if (segment.endOffset <= this.#committedOffset) segment.records = null;
    }
  }

  /** Whether `segment` is one of the closed segments the memory cache holds. */
  #isRecent(segment: Segment): boolean {
    const index = this.#segments.indexOf(segment);
    return index >= this.#segments.length - 1 - this.#options.cacheSegments;
  }

  #resolveWaiters(): void {
    let done = 0;
    while (
      done < this.#waiters.length &&
      (this.#waiters[done] as Waiter).target <= this.#committedOffset
    ) {
      done += 1;
    }
    const ready = this.#waiters.splice(0, done);
    for (const waiter of ready) waiter.resolve(this.#committedOffset);
  }

  #fail(err: unknown): void {
    this.#failure = new StorageError(
      "ERR_STORAGE_IO",
      `commit log write failed: ${(err as Error).message}`,
      { cause: err },
    );
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#pending = [];
    for (const waiter of waiters) waiter.reject(this.#failure);
  }

  /**
   * Gathers committed records from `fromOffset`, up to about `maxBytes` (log-reader.ts), from
   * memory or `loaded`; names the first segment found in neither as `missing`.
   */
  #collect(
    fromOffset: number,
    maxBytes: number,
    loaded: Map<Segment, SegmentRecords> | null,
  ): { records: LogRecord[]; missing: Segment | null } {
    return collectRecords(
      this.#segments,
      Math.max(fromOffset, this.startOffset),
      this.#committedOffset,
      maxBytes,
      (segment) => segment.records ?? loaded?.get(segment) ?? this.#loader.get(segment),
    );
  }
}
