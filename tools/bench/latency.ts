// Benchmark: end-to-end latency at a fixed rate.
//
// Goal: latency percentiles of QoS 1 messages at a steady 2,000 msg/s, a load every broker here
// sustains, so the numbers show per-message cost and jitter rather than queueing.
// Method: one publisher and one subscriber (clean sessions) in this process; the publisher
// stamps performance.now() into the first 8 payload bytes and sends on a 1 ms timer whatever
// the rate schedule says is due (at most `--window` unacknowledged); the subscriber computes
// now - stamp per message. The first `--warmup` messages are left out. Stops when all arrived,
// after `--timeout-ms`, or after `--stall-ms` without a delivery.
//
// Usage: node --import tsx tools/bench/latency.ts --port 1883 [--rate 2000] [--messages 20000]
// Prints one JSON line (milliseconds).
import { RawClient } from "./load/client.ts";
import { emit, int, parseOptions, percentile, round, runMain, waitUntil } from "./load/common.ts";
import { PublishTemplate } from "./load/packets.ts";
import { Publisher } from "./load/publisher.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;
const TICK_MS = 1;

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    qos: { default: "1" },
    rate: { default: "2000" },
    messages: { default: "20000" },
    warmup: { default: "1000" },
    payload: { default: "64" },
    window: { default: "20" },
    "timeout-ms": { default: "60000" },
    "stall-ms": { default: "3000" },
  });
  const qos = int(values.qos ?? "1", "qos");
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error("--qos must be 0, 1 or 2");
  const rate = int(values.rate ?? "", "rate");
  const count = int(values.messages ?? "", "messages");
  const warmup = Math.min(int(values.warmup ?? "", "warmup"), count - 1);
  const topic = `bench/latency/${process.pid}`;
  const connect = { host: target.host, port: target.port, timeoutMs: HANDSHAKE_TIMEOUT_MS };

  const { client: subscriber } = await RawClient.connect({
    ...connect,
    clientId: `lat-sub-${process.pid}`,
    clean: true,
  });
  await subscriber.subscribe(topic, qos, HANDSHAKE_TIMEOUT_MS);
  const latencies = new Float64Array(count);
  let received = 0;
  subscriber.handlers.onPublish = (buf, payloadStart) => {
    if (received < count) latencies[received] = performance.now() - buf.readDoubleBE(payloadStart);
    received++;
  };

  const { client } = await RawClient.connect({
    ...connect,
    clientId: `lat-pub-${process.pid}`,
    clean: true,
  });
  let startMs = Number.NaN;
  const publisher: Publisher = new Publisher(client, {
    template: new PublishTemplate(topic, qos, int(values.payload ?? "", "payload")),
    count,
    window: int(values.window ?? "", "window"),
    gate: (): number => Math.floor(((performance.now() - startMs) * rate) / 1000) - publisher.sent,
  });
  startMs = performance.now();
  const ticker = setInterval(() => publisher.kick(), TICK_MS);
  const outcome = await waitUntil(
    () => received >= count && publisher.done,
    () => received,
    int(values["timeout-ms"] ?? "", "timeout-ms"),
    int(values["stall-ms"] ?? "", "stall-ms"),
  );
  clearInterval(ticker);
  const elapsedMs = performance.now() - startMs;
  const measured = latencies.subarray(warmup, Math.min(received, count)).sort();
  emit({
    scenario: "latency",
    qos,
    targetRate: rate,
    achievedRate: Math.round((received / elapsedMs) * 1000),
    messages: count,
    received,
    outcome,
    p50Ms: round(percentile(measured, 50), 3),
    p90Ms: round(percentile(measured, 90), 3),
    p99Ms: round(percentile(measured, 99), 3),
    p999Ms: round(percentile(measured, 99.9), 3),
    maxMs: round(percentile(measured, 100), 3),
  });
  subscriber.destroy();
  client.destroy();
}

runMain(main);
