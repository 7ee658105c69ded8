// The model and commands of the commit log's model-based test: a plain array
// of what was appended, how much of it is committed, and which offsets may be
// unreadable because a test flipped a byte in their segment. Every command
// runs against the real CommitLog on real files and then checks the whole log
// against the model.

import assert from "node:assert/strict";
import { readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type fc from "fast-check";
import { CommitLog, type CommitLogOptions, type RecordInput } from "../../storage/index.ts";
import { encodedSize, SEGMENT_HEADER_SIZE } from "../../storage/record-format.ts";

export interface LogModel {
  appended: RecordInput[];
  /** Records below this offset are committed and must survive anything but deletion. */
  committed: number;
  /** The log's first offset as last observed (only grows). */
  start: number;
  /** Offset ranges [first, last] that a flipped byte may have made unreadable. */
  damaged: { first: number; last: number }[];
}

export interface RealLog {
  log: CommitLog;
  options: CommitLogOptions;
  reopens: number;
}

export type LogCommand = fc.AsyncCommand<LogModel, RealLog, false>;

async function segmentBases(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .filter((name) => name.endsWith(".seg"))
    .map((name) => Number(name.slice(0, 20)))
    .sort((a, b) => a - b);
}

function mayBeDamaged(model: LogModel, offset: number): boolean {
  return model.damaged.some((range) => offset >= range.first && offset <= range.last);
}

/** Reads the whole committed log and compares it with the model. */
export async function checkAgainstModel(model: LogModel, real: RealLog): Promise<void> {
  const { log } = real;
  assert.ok(log.startOffset >= model.start, "the log's start never moves back");
  model.start = log.startOffset;
  // The log commits in the background too, so the model's count is a lower bound.
  assert.ok(log.committedOffset >= model.committed, "nothing committed is uncommitted later");
  assert.ok(log.committedOffset <= model.appended.length, "nothing unappended is committed");
  const committedEnd = log.committedOffset;
  assert.equal(log.nextOffset, model.appended.length, "next offset matches the model");
  let expected = log.startOffset;
  for (;;) {
    const records = await log.read(expected, 1 + (expected % 3) * 700);
    for (const record of records) {
      while (expected < record.offset) {
        assert.ok(mayBeDamaged(model, expected), `offset ${expected} is missing from a read`);
        expected += 1;
      }
      assert.equal(record.offset, expected, "records come back in order at dense offsets");
      assert.ok(record.offset < log.committedOffset, "only committed records are returned");
      const want = model.appended[record.offset];
      assert.ok(want !== undefined);
      assert.deepEqual(
        { ...record, body: Buffer.from(record.body) },
        { ...want, offset: record.offset, body: Buffer.from(want.body) },
        `record ${record.offset} reads back exactly`,
      );
      expected += 1;
    }
    if (records.length === 0) break;
  }
  for (; expected < committedEnd; expected += 1) {
    assert.ok(mayBeDamaged(model, expected), `offset ${expected} is missing at the end of a read`);
  }
}

export class AppendCommand implements LogCommand {
  constructor(readonly records: RecordInput[]) {}
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    const first = real.log.append(this.records);
    assert.equal(first, model.appended.length, "append returns the next dense offset");
    model.appended.push(...this.records);
    await checkAgainstModel(model, real);
  }
  toString = () => `append(${this.records.length})`;
}

/** One read from a random offset (below the start included) with a random byte budget. */
export class ReadCommand implements LogCommand {
  constructor(
    readonly fraction: number,
    readonly maxBytes: number,
  ) {}
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    const { log } = real;
    const from = Math.floor(this.fraction * (model.appended.length + 2)) - 1;
    const committedBefore = log.committedOffset;
    const records = await log.read(Math.max(0, from), this.maxBytes);
    let expected = Math.max(from, log.startOffset, 0);
    for (const record of records) {
      for (; expected < record.offset; expected += 1) {
        assert.ok(mayBeDamaged(model, expected), `a read skipped readable offset ${expected}`);
      }
      assert.equal(record.offset, expected);
      const want = model.appended[record.offset] as RecordInput;
      assert.equal(record.topic, want.topic);
      assert.deepEqual(Buffer.from(record.body), Buffer.from(want.body));
      expected += 1;
    }
    if (records.length === 0) {
      for (let o = expected; o < committedBefore; o += 1) {
        assert.ok(mayBeDamaged(model, o), `an empty read left readable offset ${o} behind`);
      }
    }
  }
  toString = () => `read(${this.fraction.toFixed(2)}, ${this.maxBytes})`;
}

export class CommitCommand implements LogCommand {
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    const committed = await real.log.commit();
    assert.equal(committed, model.appended.length, "commit covers every appended record");
    model.committed = committed;
    await checkAgainstModel(model, real);
  }
  toString = () => "commit";
}

export class TruncateCommand implements LogCommand {
  constructor(readonly fraction: number) {}
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    const target = Math.floor(model.committed * this.fraction);
    const before = real.log.startOffset;
    await real.log.truncateBefore(target);
    const after = real.log.startOffset;
    assert.ok(after >= before, "truncation never moves the start back");
    assert.ok(after <= Math.max(before, target), "truncation deletes only whole segments below");
    await checkAgainstModel(model, real);
  }
  toString = () => `truncateBefore(${this.fraction.toFixed(2)} x committed)`;
}

async function reopen(real: RealLog): Promise<void> {
  const { log, report } = await CommitLog.open(real.options);
  real.log = log;
  real.reopens += 1;
  assert.equal(report.nextOffset, log.nextOffset);
}

export class ReopenCommand implements LogCommand {
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    await real.log.close();
    // A graceful close writes everything appended: all of it is committed now.
    model.committed = model.appended.length;
    await reopen(real);
    await checkAgainstModel(model, real);
  }
  toString = () => "close and reopen";
}

/**
 * Stops the log, then cuts its last segment at a random byte at or after the
 * end of the last committed record, as a crash in the middle of a write would
 * leave it, and reopens. The recovered log must be a prefix of what was
 * appended that holds every committed record.
 */
export class CrashCutCommand implements LogCommand {
  constructor(readonly fraction: number) {}
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    await real.log.close();
    const { dir } = real.options;
    const last = (await segmentBases(dir)).at(-1) as number;
    const path = join(dir, `${String(last).padStart(20, "0")}.seg`);
    let committedEnd = 0;
    if (model.committed > last) {
      committedEnd = SEGMENT_HEADER_SIZE;
      for (let o = last; o < model.committed; o += 1) {
        committedEnd += encodedSize(model.appended[o] as RecordInput);
      }
    }
    const size = (await readFile(path)).length;
    const cut = committedEnd + Math.floor((size - committedEnd) * this.fraction);
    await truncate(path, cut);
    await reopen(real);
    const recovered = real.log.nextOffset;
    assert.ok(recovered >= model.committed, "every committed record survives a torn tail");
    assert.ok(recovered <= model.appended.length, "recovery invents nothing");
    model.appended.length = recovered;
    model.committed = recovered;
    await checkAgainstModel(model, real);
  }
  toString = () => `crash and cut the tail at ${this.fraction.toFixed(2)}`;
}

/** Flips one byte of a closed segment: its records may become unreadable, never wrong. */
export class FlipCommand implements LogCommand {
  constructor(
    readonly pick: number,
    readonly fraction: number,
    readonly mask: number,
    readonly thenReopen: boolean,
  ) {}
  check = () => true;
  async run(model: LogModel, real: RealLog): Promise<void> {
    const { dir } = real.options;
    const bases = await segmentBases(dir);
    if (bases.length < 2) return;
    const index = Math.floor(this.pick * (bases.length - 1));
    const base = bases[index] as number;
    const next = bases[index + 1] as number;
    const path = join(dir, `${String(base).padStart(20, "0")}.seg`);
    const bytes = await readFile(path);
    if (bytes.length === 0) return;
    const at = Math.floor(this.fraction * bytes.length);
    bytes[at] = (bytes[at] as number) ^ this.mask;
    await writeFile(path, bytes);
    model.damaged.push({ first: base, last: next - 1 });
    if (this.thenReopen) {
      await real.log.close();
      model.committed = model.appended.length;
      await reopen(real);
    }
    await checkAgainstModel(model, real);
  }
  toString = () =>
    `flip byte ${this.fraction.toFixed(3)} of closed segment ${this.pick.toFixed(2)} ^${this.mask}${this.thenReopen ? " and reopen" : ""}`;
}
