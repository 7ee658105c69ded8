// Benchmark: many idle connections.
//
// Goal: how fast a broker accepts connections and how much memory each idle one costs (the
// issue asks for 5,000).
// Method: open `--connections` clean-session MQTT connections (keep-alive 0, so no PINGREQ
// traffic), at most `--concurrency` handshakes in flight; connects/s = connections / (last
// CONNACK - first connect). With `--pid`, VmRSS of the broker is read before and, after a
// `--settle-ms` pause, after; memory per connection = growth / connections. Then `--more`
// connections are opened and the growth they cause is divided by their number: the marginal
// cost of one more idle connection, without what a broker pays once for the first burst (a
// Node.js broker's young generation grows to its 32 MiB maximum during it, some 6 KiB per
// connection at 5,000). Last, all of them stay open and idle for `--idle-ms` more and RSS is
// read again: what they cost once the burst is over (a Node.js broker's V8 shrinks its young
// generation and compacts when it finds the process idle, some 30 to 40 s after the burst).
// Every handshake has a timeout, so the run ends by itself.
//
// Usage: node --import tsx tools/bench/idle-connections.ts --port 1883 --pid PID
// Prints one JSON line.
import { RawClient } from "./load/client.ts";
import {
  cpuTicks,
  emit,
  int,
  openMany,
  ownCpuPercent,
  parseOptions,
  round,
  rssBytes,
  runMain,
  sleep,
  type Target,
  TICKS_PER_SEC,
} from "./load/common.ts";

const HANDSHAKE_TIMEOUT_MS = 30_000;

/** Opens `count` idle connections with ids `idle-<pid>-<first + i>`. */
function openIdle(
  target: Target,
  count: number,
  first: number,
  concurrency: number,
): Promise<RawClient[]> {
  return openMany(count, concurrency, async (i) => {
    const { client } = await RawClient.connect({
      host: target.host,
      port: target.port,
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
      clientId: `idle-${process.pid}-${first + i}`,
      clean: true,
      keepAliveSec: 0,
    });
    return client;
  });
}

function perConnection(before: number | null, after: number | null, count: number): number | null {
  return before === null || after === null || count === 0
    ? null
    : Math.round((after - before) / count);
}

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    connections: { default: "5000" },
    more: { default: "5000" },
    concurrency: { default: "100" },
    "settle-ms": { default: "1000" },
    "idle-ms": { default: "60000" },
  });
  const count = int(values.connections ?? "", "connections");
  const more = int(values.more ?? "", "more");
  const concurrency = int(values.concurrency ?? "", "concurrency");
  const settleMs = int(values["settle-ms"] ?? "", "settle-ms");
  const idleMs = int(values["idle-ms"] ?? "", "idle-ms");
  const rssBefore = rssBytes(target.pid);
  const cpuStart = process.cpuUsage();
  const brokerTicksStart = cpuTicks(target.pid);
  const start = performance.now();
  const clients = await openIdle(target, count, 0, concurrency);
  const connectMs = performance.now() - start;
  const generatorCpuPercent = ownCpuPercent(cpuStart, connectMs);
  const brokerTicksEnd = cpuTicks(target.pid);
  await sleep(settleMs);
  const rssAfter = rssBytes(target.pid);
  const alive = clients.filter((c) => !c.socket.destroyed).length;
  const extra = await openIdle(target, more, count, concurrency);
  await sleep(settleMs);
  const rssAfterMore = rssBytes(target.pid);
  await sleep(idleMs);
  const rssIdle = rssBytes(target.pid);
  const stillOpen = [...clients, ...extra].filter((c) => !c.socket.destroyed).length;
  emit({
    scenario: "idle-connections",
    connections: count,
    alive,
    more,
    aliveMore: extra.filter((c) => !c.socket.destroyed).length,
    connectMs: round(connectMs),
    connectsPerSec: Math.round((count / connectMs) * 1000),
    generatorCpuPercent,
    brokerCpuPercent:
      brokerTicksStart === null || brokerTicksEnd === null
        ? null
        : round((((brokerTicksEnd - brokerTicksStart) / TICKS_PER_SEC) * 1000 * 100) / connectMs),
    rssBeforeMiB: rssBefore === null ? null : round(rssBefore / 2 ** 20),
    rssAfterMiB: rssAfter === null ? null : round(rssAfter / 2 ** 20),
    rssAfterMoreMiB: rssAfterMore === null ? null : round(rssAfterMore / 2 ** 20),
    bytesPerConnection: perConnection(rssBefore, rssAfter, count),
    marginalBytesPerConnection: perConnection(rssAfter, rssAfterMore, more),
    idleMs,
    aliveAfterIdle: stillOpen,
    rssAfterIdleMiB: rssIdle === null ? null : round(rssIdle / 2 ** 20),
    bytesPerConnectionAfterIdle: perConnection(rssBefore, rssIdle, stillOpen),
  });
  for (const c of [...clients, ...extra]) c.destroy();
}

runMain(main);
