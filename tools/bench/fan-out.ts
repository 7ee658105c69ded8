// Benchmark: fan-out throughput, 1 publisher -> N subscribers.
//
// Goal: deliveries per second when one publisher's messages go to many subscribers (the issue
// asks for 1 -> 100 at QoS 0 with 64-byte payloads).
// Method: `--subscribers` clean-session subscribers subscribe to one topic at `--qos`; one
// publisher sends `--messages` pre-encoded PUBLISH packets to it, never more than `--budget`
// messages ahead of what the subscribers have received on average (so the broker is saturated
// but not buried). The rate is deliveries (all subscribers together) / (last delivery - first
// send). The run stops when every delivery arrived, after `--timeout-ms`, or when nothing
// arrived for `--stall-ms`; the outcome says which.
//
// Usage: node --import tsx tools/bench/fan-out.ts --port 1883 [--subscribers 100] [--pid PID]
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
  runMain,
  TICKS_PER_SEC,
  waitUntil,
} from "./load/common.ts";
import { PublishTemplate } from "./load/packets.ts";
import { Publisher } from "./load/publisher.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;
const CONNECT_CONCURRENCY = 50;

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    qos: { default: "0" },
    subscribers: { default: "100" },
    messages: { default: "5000" },
    payload: { default: "64" },
    window: { default: "20" },
    budget: { default: "100" },
    "timeout-ms": { default: "60000" },
    "stall-ms": { default: "3000" },
  });
  const qos = int(values.qos ?? "0", "qos");
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error("--qos must be 0, 1 or 2");
  const subscriberCount = int(values.subscribers ?? "", "subscribers");
  const count = int(values.messages ?? "", "messages");
  const budget = int(values.budget ?? "", "budget");
  const topic = `bench/fan-out/${process.pid}`;
  const connect = { host: target.host, port: target.port, timeoutMs: HANDSHAKE_TIMEOUT_MS };

  const subscribers = await openMany(subscriberCount, CONNECT_CONCURRENCY, async (i) => {
    const { client } = await RawClient.connect({
      ...connect,
      clientId: `fo-sub-${process.pid}-${i}`,
      clean: true,
    });
    await client.subscribe(topic, qos, HANDSHAKE_TIMEOUT_MS);
    return client;
  });
  let delivered = 0;
  let lastReceiveMs = Number.NaN;
  const { client } = await RawClient.connect({
    ...connect,
    clientId: `fo-pub-${process.pid}`,
    clean: true,
  });
  const publisher: Publisher = new Publisher(client, {
    template: new PublishTemplate(topic, qos, int(values.payload ?? "", "payload")),
    count,
    window: int(values.window ?? "", "window"),
    gate: (): number => budget - (publisher.sent - Math.floor(delivered / subscriberCount)),
  });
  for (const s of subscribers) {
    s.handlers.onPublish = () => {
      delivered++;
    };
    s.handlers.onChunk = () => {
      lastReceiveMs = performance.now();
      publisher.kick();
    };
  }

  const expected = count * subscriberCount;
  const cpuStart = process.cpuUsage();
  const brokerTicksStart = cpuTicks(target.pid);
  const wallStart = performance.now();
  publisher.kick();
  const outcome = await waitUntil(
    () => delivered >= expected && publisher.done,
    () => delivered,
    int(values["timeout-ms"] ?? "", "timeout-ms"),
    int(values["stall-ms"] ?? "", "stall-ms"),
  );
  const wallMs = performance.now() - wallStart;
  const brokerTicksEnd = cpuTicks(target.pid);
  const brokerCpuMs =
    brokerTicksStart === null || brokerTicksEnd === null
      ? null
      : ((brokerTicksEnd - brokerTicksStart) / TICKS_PER_SEC) * 1000;
  const durationMs = lastReceiveMs - publisher.firstSendMs;
  emit({
    scenario: "fan-out",
    qos,
    subscribers: subscriberCount,
    messages: count,
    expected,
    delivered,
    outcome,
    durationMs: round(durationMs),
    deliveriesPerSec: Math.round((delivered / durationMs) * 1000),
    generatorCpuPercent: ownCpuPercent(cpuStart, wallMs),
    brokerCpuPercent: brokerCpuMs === null ? null : round((brokerCpuMs * 100) / wallMs),
    brokerCpuUsPerDelivery:
      brokerCpuMs === null ? null : round((brokerCpuMs * 1000) / delivered, 2),
  });
  for (const s of subscribers) s.destroy();
  client.destroy();
}

runMain(main);
