// Benchmark: fan-in throughput, N publishers -> 1 subscriber.
//
// Goal: messages per second a broker routes from several publishers to one subscriber at a
// given QoS (the issue asks for 4 -> 1 at QoS 0, 1 and 2 with 64-byte payloads).
// Method: one subscriber (clean session) subscribes `<prefix>/+` at the QoS under test; each
// publisher sends `--messages` pre-encoded PUBLISH packets to `<prefix>/<i>` at that QoS, with at
// most `--window` unacknowledged (QoS 1/2) and at most `--budget` messages sent but not yet
// received by the subscriber in total (so the broker is saturated but never buried). The rate is
// messages received / (last receive - first send). The run stops by itself when everything
// arrived, after `--timeout-ms`, or when nothing arrived for `--stall-ms`; the outcome says which.
// The window defaults to 100, the inflight limit run.ts gives every broker (mosquitto 2.0.11
// stops answering a v3.1.1 publisher with more QoS 2 publishes in flight than its
// max_inflight_messages, 20 unless configured).
// The generator's own CPU use (% of one core) and, with `--pid`, the broker's are reported so the
// reader can tell which side was the bottleneck.
//
// Usage: node --import tsx tools/bench/fan-in.ts --port 1883 [--qos 1] [--pid PID]
// Prints one JSON line.
import { RawClient } from "./load/client.ts";
import {
  cpuPercent,
  cpuTicks,
  emit,
  int,
  parseOptions,
  round,
  runMain,
  TICKS_PER_SEC,
  waitUntil,
} from "./load/common.ts";
import { PublishTemplate } from "./load/packets.ts";
import { Publisher } from "./load/publisher.ts";

const DEFAULT_MESSAGES_PER_PUBLISHER = { 0: 50_000, 1: 25_000, 2: 12_500 } as const;
const HANDSHAKE_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const { target, values } = parseOptions({
    qos: { default: "0" },
    publishers: { default: "4" },
    messages: { default: "" },
    payload: { default: "64" },
    window: { default: "100" },
    budget: { default: "800" },
    prefix: { default: "bench/fan-in" },
    "timeout-ms": { default: "60000" },
    "stall-ms": { default: "3000" },
  });
  const qos = int(values.qos ?? "0", "qos");
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error("--qos must be 0, 1 or 2");
  const publishers = int(values.publishers ?? "4", "publishers");
  const perPublisher =
    values.messages === ""
      ? DEFAULT_MESSAGES_PER_PUBLISHER[qos]
      : int(values.messages ?? "", "messages");
  const payloadBytes = int(values.payload ?? "64", "payload");
  const window = int(values.window ?? "100", "window");
  const budget = int(values.budget ?? "800", "budget");
  const prefix = `${values.prefix}/${process.pid}`;
  const connect = { host: target.host, port: target.port, timeoutMs: HANDSHAKE_TIMEOUT_MS };

  const { client: subscriber } = await RawClient.connect({
    ...connect,
    clientId: `fi-sub-${process.pid}`,
    clean: true,
  });
  await subscriber.subscribe(`${prefix}/+`, qos, HANDSHAKE_TIMEOUT_MS);

  const pubs: Publisher[] = [];
  const totalSent = (): number => pubs.reduce((sum, p) => sum + p.sent, 0);
  for (let i = 0; i < publishers; i++) {
    const { client } = await RawClient.connect({
      ...connect,
      clientId: `fi-pub-${process.pid}-${i}`,
      clean: true,
    });
    pubs.push(
      new Publisher(client, {
        template: new PublishTemplate(`${prefix}/${i}`, qos, payloadBytes),
        count: perPublisher,
        window,
        gate: () => budget - (totalSent() - subscriber.received),
      }),
    );
  }
  let lastReceiveMs = Number.NaN;
  subscriber.handlers.onChunk = () => {
    lastReceiveMs = performance.now();
    for (const p of pubs) p.kick();
  };

  const expected = publishers * perPublisher;
  const cpuStart = process.cpuUsage();
  const brokerTicksStart = cpuTicks(target.pid);
  const wallStart = performance.now();
  for (const p of pubs) p.kick();
  const outcome = await waitUntil(
    () => subscriber.received >= expected && pubs.every((p) => p.done),
    () => subscriber.received,
    int(values["timeout-ms"] ?? "", "timeout-ms"),
    int(values["stall-ms"] ?? "", "stall-ms"),
  );
  const wallMs = performance.now() - wallStart;
  const cpuUsed = process.cpuUsage(cpuStart);
  const brokerTicksEnd = cpuTicks(target.pid);
  const firstSendMs = Math.min(...pubs.map((p) => p.firstSendMs));
  const durationMs = lastReceiveMs - firstSendMs;
  const brokerCpuMs =
    brokerTicksStart === null || brokerTicksEnd === null
      ? null
      : ((brokerTicksEnd - brokerTicksStart) / TICKS_PER_SEC) * 1000;
  emit({
    scenario: "fan-in",
    qos,
    publishers,
    payloadBytes,
    expected,
    sent: totalSent(),
    received: subscriber.received,
    outcome,
    durationMs: round(durationMs),
    msgPerSec: Math.round((subscriber.received / durationMs) * 1000),
    generatorCpuPercent: cpuPercent(cpuUsed, wallMs),
    generatorCpuUsPerMsg: round((cpuUsed.user + cpuUsed.system) / subscriber.received, 2),
    generatorSysUsPerMsg: round(cpuUsed.system / subscriber.received, 2),
    brokerCpuPercent: brokerCpuMs === null ? null : round((brokerCpuMs * 100) / wallMs),
    brokerCpuUsPerMsg:
      brokerCpuMs === null ? null : round((brokerCpuMs * 1000) / subscriber.received, 2),
  });
  subscriber.destroy();
}

runMain(main);
