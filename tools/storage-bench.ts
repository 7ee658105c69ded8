// Storage engine micro-benchmark: how fast the commit log appends and commits
// (group commit, both sync modes), how long it takes to open a large log, and
// how fast a full read of it goes (what a restart that rebuilds filter indices
// costs). Run by hand, never in `npm test`:
//
//   node --import tsx tools/storage-bench.ts [--records 1000000] [--body 1024] [--sync os|fsync]
//
// Method: appends in batches of --batch records per event-loop turn, awaiting
// commit() after each batch (as the router does); then closes, reopens (timed)
// and reads everything from offset 0 with read(offset, 1 MiB) (timed). Prints
// one JSON line.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CommitLog, type SyncMode } from "../storage/index.ts";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "200000" },
    body: { type: "string", default: "1024" },
    batch: { type: "string", default: "100" },
    sync: { type: "string", default: "os" },
    dir: { type: "string" },
  },
});
const records = Number(values.records);
const bodyBytes = Number(values.body);
const batchSize = Number(values.batch);
const sync = values.sync as SyncMode;
const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "storage-bench-")));
const options = {
  dir,
  maxSegmentSize: 100 * 1024 * 1024,
  maxSegmentCount: 1000,
  cacheSegments: 4,
  sync,
};

const body = Buffer.alloc(bodyBytes, 7);
let { log } = await CommitLog.open(options);
const appendStart = performance.now();
for (let i = 0; i < records; i += batchSize) {
  const batch = [];
  for (let j = 0; j < batchSize && i + j < records; j += 1) {
    batch.push({
      topic: `devices/${(i + j) % 1000}/telemetry`,
      qos: 1 as const,
      retain: false,
      timestampMs: Date.now(),
      expiresAtMs: null,
      body,
    });
  }
  log.append(batch);
  await log.commit();
}
const appendMs = performance.now() - appendStart;
const stats = { ...log.stats };
await log.close();

const openStart = performance.now();
({ log } = await CommitLog.open(options));
const openMs = performance.now() - openStart;

const readStart = performance.now();
let next = 0;
let count = 0;
for (;;) {
  const batch = await log.read(next, 1024 * 1024);
  if (batch.length === 0) break;
  count += batch.length;
  next = (batch.at(-1)?.offset as number) + 1;
}
const readMs = performance.now() - readStart;
await log.close();
if (values.dir === undefined) await rm(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    records,
    bodyBytes,
    sync,
    appendPerSec: Math.round(records / (appendMs / 1000)),
    batches: stats.batches,
    syncs: stats.syncs,
    mbWritten: Math.round(stats.bytesWritten / 1e6),
    openMs: Math.round(openMs),
    readAllMs: Math.round(readMs),
    readPerSec: Math.round(count / (readMs / 1000)),
    recordsRead: count,
  }),
);
