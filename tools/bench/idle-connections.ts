// Benchmark: many idle connections.
//
// Goal: how fast a broker accepts connections and how much memory each idle one costs (the
// issue asks for 5,000).
// Method: open `--connections` clean-session MQTT connections (keep-alive 0, so no PINGREQ
// traffic), at most `--concurrency` handshakes in flight; connects/s = connections / (last
// CONNACK - first connect). With `--pid`, VmRSS of the broker is read before and, after a
// `--settle-ms` pause, after; memory per connection = growth / connections. Every handshake has
// a timeout, so the run ends by itself.
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
  TICKS_PER_SEC,
} from "./load/common.ts";

const HANDSHAKE_TIMEOUT_MS = 30_000;

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    connections: { default: "5000" },
    concurrency: { default: "100" },
    "settle-ms": { default: "1000" },
  });
  const count = int(values.connections ?? "", "connections");
  const rssBefore = rssBytes(target.pid);
  const cpuStart = process.cpuUsage();
  const brokerTicksStart = cpuTicks(target.pid);
  const start = performance.now();
  const clients = await openMany(count, int(values.concurrency ?? "", "concurrency"), async (i) => {
    const { client } = await RawClient.connect({
      host: target.host,
      port: target.port,
      timeoutMs: HANDSHAKE_TIMEOUT_MS,
      clientId: `idle-${process.pid}-${i}`,
      clean: true,
      keepAliveSec: 0,
    });
    return client;
  });
  const connectMs = performance.now() - start;
  const generatorCpuPercent = ownCpuPercent(cpuStart, connectMs);
  const brokerTicksEnd = cpuTicks(target.pid);
  await sleep(int(values["settle-ms"] ?? "", "settle-ms"));
  const rssAfter = rssBytes(target.pid);
  const alive = clients.filter((c) => !c.socket.destroyed).length;
  emit({
    scenario: "idle-connections",
    connections: count,
    alive,
    connectMs: round(connectMs),
    connectsPerSec: Math.round((count / connectMs) * 1000),
    generatorCpuPercent,
    brokerCpuPercent:
      brokerTicksStart === null || brokerTicksEnd === null
        ? null
        : round((((brokerTicksEnd - brokerTicksStart) / TICKS_PER_SEC) * 1000 * 100) / connectMs),
    rssBeforeMiB: rssBefore === null ? null : round(rssBefore / 2 ** 20),
    rssAfterMiB: rssAfter === null ? null : round(rssAfter / 2 ** 20),
    bytesPerConnection:
      rssBefore === null || rssAfter === null ? null : Math.round((rssAfter - rssBefore) / count),
  });
  for (const c of clients) c.destroy();
}

runMain(main);
