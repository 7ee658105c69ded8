// The scenarios run.ts knows: which script, with which arguments, and which numbers of its JSON
// result become rows of the table (label, unit, and whether higher or lower is better).
// Called by: run.ts and table.ts. Adding a scenario means adding one ScenarioSpec here.

export type Metrics = Record<string, number | null>;

export interface Row {
  label: string;
  better: "higher" | "lower";
}

export interface ScenarioSpec {
  name: string;
  script: string;
  args: string[];
  rows: Row[];
  metrics(result: Record<string, unknown>): Metrics;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Fraction of `part` in `whole` as a percentage, or null. */
function percent(part: unknown, whole: unknown): number | null {
  const p = num(part);
  const w = num(whole);
  return p === null || w === null || w === 0 ? null : (p / w) * 100;
}

function fanIn(qos: 0 | 1 | 2): ScenarioSpec {
  const rate = `fan-in 4->1 QoS ${qos}, 64 B (msg/s)`;
  const cpu = `fan-in 4->1 QoS ${qos}: broker CPU per message (µs)`;
  const delivered = `fan-in 4->1 QoS ${qos}: delivered (%)`;
  return {
    name: `fan-in-qos${qos}`,
    script: "fan-in.ts",
    args: ["--qos", String(qos)],
    rows: [
      { label: rate, better: "higher" },
      { label: cpu, better: "lower" },
      { label: delivered, better: "higher" },
    ],
    metrics: (r) => ({
      [rate]: num(r.msgPerSec),
      [cpu]: num(r.brokerCpuUsPerMsg),
      [delivered]: percent(r.received, r.expected),
    }),
  };
}

export const scenarios: ScenarioSpec[] = [
  fanIn(0),
  fanIn(1),
  fanIn(2),
  {
    name: "fan-out",
    script: "fan-out.ts",
    args: ["--subscribers", "100", "--qos", "0"],
    rows: [
      { label: "fan-out 1->100 QoS 0, 64 B (deliveries/s)", better: "higher" },
      { label: "fan-out 1->100 QoS 0: broker CPU per delivery (µs)", better: "lower" },
      { label: "fan-out 1->100 QoS 0: delivered (%)", better: "higher" },
    ],
    metrics: (r) => ({
      "fan-out 1->100 QoS 0, 64 B (deliveries/s)": num(r.deliveriesPerSec),
      "fan-out 1->100 QoS 0: broker CPU per delivery (µs)": num(r.brokerCpuUsPerDelivery),
      "fan-out 1->100 QoS 0: delivered (%)": percent(r.delivered, r.expected),
    }),
  },
  {
    name: "latency",
    script: "latency.ts",
    args: ["--qos", "1", "--rate", "2000"],
    rows: [
      { label: "latency QoS 1 @ 2,000 msg/s p50 (ms)", better: "lower" },
      { label: "latency QoS 1 @ 2,000 msg/s p99 (ms)", better: "lower" },
      { label: "latency QoS 1 @ 2,000 msg/s p99.9 (ms)", better: "lower" },
    ],
    metrics: (r) => ({
      "latency QoS 1 @ 2,000 msg/s p50 (ms)": num(r.p50Ms),
      "latency QoS 1 @ 2,000 msg/s p99 (ms)": num(r.p99Ms),
      "latency QoS 1 @ 2,000 msg/s p99.9 (ms)": num(r.p999Ms),
    }),
  },
  {
    name: "idle",
    script: "idle-connections.ts",
    args: ["--connections", "5000", "--more", "5000", "--idle-ms", "60000"],
    rows: [
      { label: "5,000 idle connections: connects/s", better: "higher" },
      { label: "5,000 idle connections: KiB per connection", better: "lower" },
      { label: "5,000 more idle connections: KiB per connection", better: "lower" },
      { label: "10,000 idle connections, 60 s later: KiB per connection", better: "lower" },
    ],
    metrics: (r) => {
      const kib = (value: unknown) => {
        const bytes = num(value);
        return bytes === null ? null : bytes / 1024;
      };
      return {
        "5,000 idle connections: connects/s": num(r.connectsPerSec),
        "5,000 idle connections: KiB per connection": kib(r.bytesPerConnection),
        "5,000 more idle connections: KiB per connection": kib(r.marginalBytesPerConnection),
        "10,000 idle connections, 60 s later: KiB per connection": kib(
          r.bytesPerConnectionAfterIdle,
        ),
      };
    },
  },
  {
    name: "backlog",
    script: "backlog.ts",
    args: [],
    rows: [
      { label: "backlog: publish 5,000 x 1 KiB QoS 1 to 500 offline (msg/s)", better: "higher" },
      { label: "backlog: memory growth (MiB)", better: "lower" },
      { label: "backlog: memory per queued message (B)", better: "lower" },
      { label: "backlog: on disk, live (MiB)", better: "lower" },
      { label: "backlog: on disk after stop (MiB)", better: "lower" },
      { label: "backlog: restart to ready (ms)", better: "lower" },
      { label: "backlog: drain 2.5 M deliveries (s)", better: "lower" },
      { label: "backlog: delivered, after the restart if durable (%)", better: "higher" },
    ],
    metrics: (r) => {
      const drainMs = num(r.drainMs);
      return {
        "backlog: publish 5,000 x 1 KiB QoS 1 to 500 offline (msg/s)": num(r.publishPerSec),
        "backlog: memory growth (MiB)": num(r.rssGrowthMiB),
        "backlog: memory per queued message (B)": num(r.bytesPerQueuedMessage),
        "backlog: on disk, live (MiB)": num(r.diskMiB),
        "backlog: on disk after stop (MiB)": num(r.diskAfterStopMiB),
        "backlog: restart to ready (ms)": num(r.restartMs),
        "backlog: drain 2.5 M deliveries (s)": drainMs === null ? null : drainMs / 1000,
        "backlog: delivered, after the restart if durable (%)": percent(r.delivered, r.expected),
      };
    },
  },
];
