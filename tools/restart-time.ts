// Restart time of issue 4. Goal: how long the broker takes to serve again on
// a data directory holding many messages and persistent sessions (aim: under
// 5 s for 1,000,000 messages and 10,000 sessions).
// Method: the data directory is built directly through the storage engine's
// front door, faster than through MQTT: the commit log gets MESSAGES records
// encoded as the router encodes them (topics load/0..load/999), and the index
// gets SESSIONS persistent MQTT 3.1.1 sessions, each subscribed to one topic
// at QoS 1 with its cursor spread over the log (one session at offset 0, so
// the restore scans the whole log to rebuild the filter indices). Then the
// CLI is started RUNS times on it; each run measures spawn -> `broker.ready`
// and spawn -> the CONNACK (session present) of one of the stored sessions,
// and is stopped with SIGTERM. Prints a table and a final JSON line.
//
// Usage: node --import tsx tools/restart-time.ts [--messages N] [--sessions N] [--runs N]

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { encodeBody } from "../src/router/message.ts";
import { SESSION_CURSOR } from "../src/router/persistence.ts";
import { CommitLog, IndexDb, type RecordInput } from "../storage/index.ts";
import { CLI, ROOT, withTimeout } from "./crash-round.ts";

const APPEND_BATCH = 10_000;
const INDEX_BATCH = 1_000;
const TOPICS = 1_000;
const MAX_SEGMENT_SIZE = 100 * 1024 * 1024;
const MAX_SEGMENT_COUNT = 10;
const CACHE_SEGMENTS = 4;
const READY_TIMEOUT_MS = 120_000;

function config(dataDir: string): string {
  return `[router]
id = 0
max_connections = 10010
max_segment_size = ${MAX_SEGMENT_SIZE}
max_segment_count = ${MAX_SEGMENT_COUNT}

[storage]
dir = ${JSON.stringify(dataDir)}
sync = "os"
cache_segments = ${CACHE_SEGMENTS}

[v4.1]
listen = "127.0.0.1:0"
`;
}

async function build(dataDir: string, messages: number, sessions: number): Promise<number> {
  const { log } = await CommitLog.open({
    dir: join(dataDir, "log"),
    maxSegmentSize: MAX_SEGMENT_SIZE,
    maxSegmentCount: MAX_SEGMENT_COUNT,
    cacheSegments: CACHE_SEGMENTS,
    sync: "os",
  });
  const now = Date.now();
  for (let first = 0; first < messages; first += APPEND_BATCH) {
    const records: RecordInput[] = [];
    for (let n = first; n < Math.min(first + APPEND_BATCH, messages); n++) {
      records.push({
        topic: `load/${n % TOPICS}`,
        qos: 1,
        retain: false,
        timestampMs: now,
        expiresAtMs: null,
        body: encodeBody(Buffer.from(`message ${n} ${"x".repeat(40)}`), undefined),
      });
    }
    log.append(records);
    await log.commit();
  }
  const committed = log.committedOffset;
  await log.close();

  const index = await IndexDb.open({ dir: join(dataDir, "index"), sync: "os" });
  for (let first = 0; first < sessions; first += INDEX_BATCH) {
    const batch = index.batch();
    for (let i = first; i < Math.min(first + INDEX_BATCH, sessions); i++) {
      const clientId = `load-${i}`;
      batch.put(index.sessions, [clientId], { expiryIntervalSec: 0, disconnectedAtMs: now });
      batch.put(index.subscriptions, [clientId, `load/${i % TOPICS}`], { qos: 1, sinceOffset: 0 });
      batch.put(index.cursors, [clientId, SESSION_CURSOR], Math.floor((i / sessions) * committed));
    }
    await batch.write();
  }
  await index.close();
  return committed;
}

interface Run {
  readyMs: number;
  servingMs: number;
  restoredSessions: number;
}

async function run(file: string, sessions: number): Promise<Run> {
  const start = performance.now();
  const child = spawn(process.execPath, [...CLI, "--config", file], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  try {
    let restoredSessions = -1;
    const ready = new Promise<number>((resolve, reject) => {
      void exited.then((code) => reject(new Error(`broker exited with ${code}`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.event === "router.restored") restoredSessions = Number(entry.sessions);
        if (entry.event === "broker.ready") {
          const listeners = entry.listeners as Array<{ port: number }>;
          resolve(listeners[0]?.port ?? 0);
        }
      });
    });
    const port = await withTimeout(ready, "broker.ready", READY_TIMEOUT_MS);
    const readyMs = performance.now() - start;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clean: false,
      clientId: `load-${sessions - 1}`,
    });
    const servingMs = performance.now() - start;
    client.end(true);
    child.kill("SIGTERM");
    await withTimeout(exited, "the broker to stop", READY_TIMEOUT_MS);
    return { readyMs, servingMs, restoredSessions };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      messages: { type: "string", default: "1000000" },
      sessions: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
    },
  });
  const messages = Number(values.messages);
  const sessions = Number(values.sessions);
  const runs = Number(values.runs);
  if (![messages, sessions, runs].every((v) => Number.isInteger(v) && v >= 1) || runs > 100) {
    console.error("usage: restart-time.ts [--messages N] [--sessions N] [--runs 1..100]");
    return 2;
  }
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-restart-time-"));
  try {
    const dataDir = join(dir, "data");
    const buildStart = performance.now();
    const committed = await build(dataDir, messages, sessions);
    const buildMs = performance.now() - buildStart;
    console.log(
      `built ${committed} messages and ${sessions} sessions in ${Math.round(buildMs)} ms`,
    );
    const file = join(dir, "broker.toml");
    await writeFile(file, config(dataDir));
    const results: Run[] = [];
    console.log(["run", "ready ms", "serving ms", "sessions"].map((h) => h.padStart(12)).join(""));
    for (let i = 0; i < runs; i++) {
      const r = await run(file, sessions);
      results.push(r);
      console.log(
        [i + 1, Math.round(r.readyMs), Math.round(r.servingMs), r.restoredSessions]
          .map((c) => String(c).padStart(12))
          .join(""),
      );
    }
    const worst = Math.max(...results.map((r) => r.servingMs));
    console.log(
      JSON.stringify({
        drill: "restart-time",
        messages: committed,
        sessions,
        readyMs: results.map((r) => Math.round(r.readyMs)),
        servingMs: results.map((r) => Math.round(r.servingMs)),
        underFiveSeconds: worst < 5000,
      }),
    );
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
