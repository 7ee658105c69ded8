// Model-based test of the commit log (fast-check): random sequences of
// append, commit, read, truncate, close-and-reopen, crash-and-cut and
// byte-flip commands run against the real log on real files, and after every
// step the whole log is read back and compared with a plain array.
// FC_SEED=<n> reproduces a failure; FC_RUNS=<n> runs more.

import { test } from "node:test";
import fc from "fast-check";
import { CommitLog, type RecordInput, type SyncMode } from "../../storage/index.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import {
  AppendCommand,
  CommitCommand,
  CrashCutCommand,
  FlipCommand,
  type LogModel,
  ReadCommand,
  type RealLog,
  ReopenCommand,
  TruncateCommand,
} from "./log-model.ts";

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const numRuns = Number(process.env.FC_RUNS ?? 100);

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  topic: fc.oneof(
    fc.constantFrom("a", "a/b/c", "sensors/ümlaut/°C", "$SYS/x", ""),
    fc.string({ maxLength: 20 }),
  ),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  retain: fc.boolean(),
  timestampMs: fc.integer({ min: 0, max: 2 ** 42 }),
  expiresAtMs: fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: null }),
  body: fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)),
});

// Positions are drawn as a fraction of what exists when the command runs.
// fast-check's doubles favour 0 and 1, so fractions come from integers.
const fraction = fc.integer({ min: 0, max: 9999 }).map((n) => n / 10000);

const commands = [
  fc.array(recordArb, { minLength: 1, maxLength: 8 }).map((records) => new AppendCommand(records)),
  fc.constant(new CommitCommand()),
  fc
    .tuple(fraction, fc.integer({ min: 1, max: 2000 }))
    .map(([f, maxBytes]) => new ReadCommand(f, maxBytes)),
  fraction.map((f) => new TruncateCommand(f)),
  fc.constant(new ReopenCommand()),
  fraction.map((f) => new CrashCutCommand(f)),
  fc
    .tuple(fraction, fraction, fc.integer({ min: 1, max: 255 }), fc.boolean())
    .map(([pick, at, mask, reopen]) => new FlipCommand(pick, at, mask, reopen)),
];

for (const sync of ["os", "fsync"] as SyncMode[]) {
  test(`the commit log matches a plain array through appends, reads, truncation, reopening, torn tails and flipped bytes (sync ${sync})`, async (t) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 60, size: "large" }),
        fc.integer({ min: 200, max: 900 }),
        fc.integer({ min: 0, max: 2 }),
        async (cmds, maxSegmentSize, cacheSegments) => {
          run += 1;
          const dir = await tempDir(t, `log-model-${run}-`);
          const options = {
            dir,
            maxSegmentSize,
            maxSegmentCount: 1000,
            cacheSegments,
            sync,
          };
          const { log } = await CommitLog.open(options);
          const real: RealLog = { log, options, reopens: 0 };
          const model: LogModel = { appended: [], committed: 0, start: 0, damaged: [] };
          try {
            await fc.asyncModelRun(() => ({ model, real }), cmds);
          } finally {
            await real.log.close();
          }
        },
      ),
      { seed, numRuns: sync === "fsync" ? Math.ceil(numRuns / 4) : numRuns, verbose: 1 },
    );
  });
}
