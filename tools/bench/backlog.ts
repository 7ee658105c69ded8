// Benchmark: a backlog for offline persistent sessions, its memory, disk and drain time.
//
// Goal: what a queue of messages for offline devices costs (memory growth, bytes on disk) and
// how long it takes to deliver once the devices come back (the issue asks for 500 offline
// persistent subscribers and 5,000 QoS 1 messages of 1 KiB, i.e. 2.5 million deliveries).
// Method, phase `fill`: `--subscribers` clients with clean session false subscribe to one topic
// at QoS 1 and disconnect; VmRSS of the broker (`--pid`) and the bytes under `--data-dir` are
// read; one publisher sends `--messages` QoS 1 messages of `--payload` bytes (at most `--window`
// unacknowledged); after `--settle-ms` memory and disk are read again.
// Phase `drain`: the same client ids reconnect (at most `--concurrency` handshakes in flight) and
// acknowledge everything they are sent; drain time = last delivery - first reconnect. Stops when
// all deliveries arrived, after `--timeout-ms`, or after `--stall-ms` without one.
// Phase `all` (the default) runs both against a live broker; run.ts runs them separately so it
// can restart the broker in between and time its recovery on this backlog.
//
// Usage: node --import tsx tools/bench/backlog.ts --port 1883 --pid PID [--phase fill|drain|all]
// Prints one JSON line per phase.
import { RawClient } from "./load/client.ts";
import {
  dirBytes,
  emit,
  int,
  openMany,
  parseOptions,
  round,
  rssBytes,
  runMain,
  sleep,
  type Target,
  waitUntil,
} from "./load/common.ts";
import { PublishTemplate } from "./load/packets.ts";
import { Publisher } from "./load/publisher.ts";

const HANDSHAKE_TIMEOUT_MS = 30_000;
const TOPIC = "bench/backlog";

interface Settings {
  target: Target;
  subscribers: number;
  messages: number;
  payloadBytes: number;
  window: number;
  concurrency: number;
  settleMs: number;
  timeoutMs: number;
  stallMs: number;
  idPrefix: string;
  dataDir: string;
}

function clientId(s: Settings, i: number): string {
  return `${s.idPrefix}-${i}`;
}

async function fill(s: Settings): Promise<void> {
  const connect = { host: s.target.host, port: s.target.port, timeoutMs: HANDSHAKE_TIMEOUT_MS };
  await openMany(s.subscribers, s.concurrency, async (i) => {
    const { client } = await RawClient.connect({
      ...connect,
      clientId: clientId(s, i),
      clean: false,
    });
    await client.subscribe(TOPIC, 1, HANDSHAKE_TIMEOUT_MS);
    await client.disconnect(HANDSHAKE_TIMEOUT_MS);
  });
  await sleep(s.settleMs);
  const rssBefore = rssBytes(s.target.pid);
  const diskBefore = s.dataDir === "" ? null : dirBytes(s.dataDir);

  const { client } = await RawClient.connect({
    ...connect,
    clientId: `${s.idPrefix}-pub`,
    clean: true,
  });
  const publisher = new Publisher(client, {
    template: new PublishTemplate(TOPIC, 1, s.payloadBytes),
    count: s.messages,
    window: s.window,
  });
  publisher.kick();
  const outcome = await waitUntil(
    () => publisher.done,
    () => publisher.acked,
    s.timeoutMs,
    s.stallMs,
  );
  const publishMs = publisher.lastAckMs - publisher.firstSendMs;
  await client.disconnect(HANDSHAKE_TIMEOUT_MS);
  await sleep(s.settleMs);
  const rssAfter = rssBytes(s.target.pid);
  const diskAfter = s.dataDir === "" ? null : dirBytes(s.dataDir);
  const queued = s.subscribers * publisher.acked;
  emit({
    scenario: "backlog",
    phase: "fill",
    subscribers: s.subscribers,
    messages: s.messages,
    payloadBytes: s.payloadBytes,
    acked: publisher.acked,
    outcome,
    publishMs: round(publishMs),
    publishPerSec: Math.round((publisher.acked / publishMs) * 1000),
    rssBeforeMiB: rssBefore === null ? null : round(rssBefore / 2 ** 20),
    rssGrowthMiB:
      rssBefore === null || rssAfter === null ? null : round((rssAfter - rssBefore) / 2 ** 20),
    bytesPerQueuedMessage:
      rssBefore === null || rssAfter === null ? null : round((rssAfter - rssBefore) / queued),
    diskMiB: diskAfter === null ? null : round(diskAfter / 2 ** 20),
    diskGrowthMiB:
      diskAfter === null || diskBefore === null ? null : round((diskAfter - diskBefore) / 2 ** 20),
  });
}

async function drain(s: Settings): Promise<void> {
  const expected = s.subscribers * s.messages;
  let delivered = 0;
  let lastReceiveMs = Number.NaN;
  let sessionsPresent = 0;
  const start = performance.now();
  const clients = await openMany(s.subscribers, s.concurrency, async (i) => {
    const { client, sessionPresent } = await RawClient.connect({
      host: s.target.host,
      port: s.target.port,
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
      clientId: clientId(s, i),
      clean: false,
    });
    if (sessionPresent) sessionsPresent++;
    // Deliveries that arrived before this handler was set are counted from `received`.
    delivered += client.received;
    client.handlers.onPublish = () => {
      delivered++;
    };
    client.handlers.onChunk = () => {
      lastReceiveMs = performance.now();
    };
    return client;
  });
  const outcome = await waitUntil(
    () => delivered >= expected,
    () => delivered,
    s.timeoutMs,
    s.stallMs,
  );
  const drainMs = lastReceiveMs - start;
  emit({
    scenario: "backlog",
    phase: "drain",
    subscribers: s.subscribers,
    sessionsPresent,
    expected,
    delivered,
    outcome,
    drainMs: round(drainMs),
    deliveriesPerSec: Math.round((delivered / drainMs) * 1000),
  });
  await Promise.all(clients.map((c) => c.disconnect(HANDSHAKE_TIMEOUT_MS)));
}

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    phase: { default: "all" },
    subscribers: { default: "500" },
    messages: { default: "5000" },
    payload: { default: "1024" },
    window: { default: "100" },
    concurrency: { default: "100" },
    "settle-ms": { default: "1000" },
    "timeout-ms": { default: "300000" },
    "stall-ms": { default: "10000" },
    "id-prefix": { default: "bench-backlog" },
    "data-dir": { default: "" },
  });
  const s: Settings = {
    target,
    subscribers: int(values.subscribers ?? "", "subscribers"),
    messages: int(values.messages ?? "", "messages"),
    payloadBytes: int(values.payload ?? "", "payload"),
    window: int(values.window ?? "", "window"),
    concurrency: int(values.concurrency ?? "", "concurrency"),
    settleMs: int(values["settle-ms"] ?? "", "settle-ms"),
    timeoutMs: int(values["timeout-ms"] ?? "", "timeout-ms"),
    stallMs: int(values["stall-ms"] ?? "", "stall-ms"),
    idPrefix: values["id-prefix"] ?? "bench-backlog",
    dataDir: values["data-dir"] ?? "",
  };
  const phase = values.phase;
  if (phase !== "fill" && phase !== "drain" && phase !== "all") {
    throw new Error("--phase must be fill, drain or all");
  }
  if (phase !== "drain") await fill(s);
  if (phase !== "fill") await drain(s);
}

runMain(main);
