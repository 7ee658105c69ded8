// Runs the benchmarks side by side: every scenario against every broker, N times, one table.
//
// Goal: answer "how many messages per second, how much memory per connection and per queued
// message, how fast back after a restart" with numbers measured in one run on this machine.
// Method: for each run, for each broker, for each scenario: a fresh temp dir and config, the
// broker started pinned to CPU 0 (`taskset -c 0`), the scenario script started pinned to CPU 1,
// its JSON line collected, the broker stopped. Brokers are interleaved within a run so a drift
// in the machine's speed hits all of them alike. The backlog scenario fills, then (durable
// brokers) stops and restarts the broker, timing spawn-to-ready, then drains. The table shows
// medians over the runs and each broker's ratio to mosquitto. A generator check runs fan-in with
// one and then two generator processes (both on CPU 1) and prints generator and broker CPU use,
// so a reader can see which side was saturated. `--window` is the QoS 1/2 publisher window of
// the generator (the brokers' own outgoing window is INFLIGHT_WINDOW in brokers.ts). Raw
// results go to `--out`.
//
// `npm run bench` builds dist/ first, so our broker runs as users run it (node dist/...).
//
// Usage: npm run bench -- [--runs 5] [--brokers mosquitto,aedes,rumqttd-fsync,rumqttd-os]
//        [--scenarios fan-in-qos0,fan-in-qos1,fan-in-qos2,fan-out,latency,idle,backlog]
//        [--window 100] [--check yes|no] [--out FILE]
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  allBrokers,
  type BrokerSpec,
  freePort,
  GENERATOR_CPU,
  liveBrokers,
  REPO_ROOT,
  type RunningBroker,
  startBroker,
  stopBroker,
} from "./brokers.ts";
import { dirBytes, round } from "./load/common.ts";
import { type Metrics, type ScenarioSpec, scenarios } from "./scenarios.ts";
import { renderTable } from "./table.ts";
import { generatorVerdict } from "./verdict.ts";

const SCENARIO_TIMEOUT_MS = 15 * 60_000;

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    brokers: { type: "string", default: allBrokers.map((b) => b.name).join(",") },
    scenarios: { type: "string", default: scenarios.map((s) => s.name).join(",") },
    window: { type: "string", default: "100" },
    check: { type: "string", default: "yes" },
    out: { type: "string", default: join(tmpdir(), `bench-${Date.now()}.jsonl`) },
  },
  strict: true,
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number >= 1");
const outPath = values.out;
const window = Number(values.window);
if (!Number.isInteger(window) || window < 1 || window > 65_535) {
  throw new Error("--window must be a whole number from 1 to 65535");
}
/** Scripts that take the generator's publisher window. */
const WINDOWED = new Set(["fan-in.ts", "fan-out.ts", "latency.ts", "backlog.ts"]);

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function pick<T extends { name: string }>(all: T[], list: string, what: string): T[] {
  return list.split(",").map((name) => {
    const found = all.find((x) => x.name === name.trim());
    if (found === undefined) {
      throw new Error(`unknown ${what} ${name}; known: ${all.map((x) => x.name).join(", ")}`);
    }
    return found;
  });
}

/** Runs one generator script pinned to the generator CPU; returns its JSON lines. */
function generate(script: string, args: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "taskset",
      [
        "-c",
        GENERATOR_CPU,
        process.execPath,
        "--import",
        "tsx",
        join(REPO_ROOT, "tools/bench", script),
        ...args,
        ...(WINDOWED.has(script) ? ["--window", String(window)] : []),
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), SCENARIO_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${script} exited with ${code}: ${stderr.trim().slice(-500)}`));
        return;
      }
      resolve(
        stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    });
  });
}

async function start(spec: BrokerSpec, dir: string, port: number): Promise<RunningBroker> {
  return startBroker(spec, spec.prepare(dir, port), port, join(dir, "broker.log"));
}

/** One scenario against one fresh broker; returns the metrics for the table. */
async function runScenario(spec: BrokerSpec, scenario: ScenarioSpec): Promise<Metrics> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${spec.name}-`));
  const port = await freePort();
  let broker = await start(spec, dir, port);
  try {
    const common = ["--port", String(port), "--pid", String(broker.pid)];
    if (scenario.name !== "backlog") {
      const [result] = await generate(scenario.script, [...common, ...scenario.args]);
      if (result === undefined) throw new Error(`${scenario.script} printed no result`);
      appendFileSync(outPath, `${JSON.stringify({ broker: spec.name, ...result })}\n`);
      return scenario.metrics(result);
    }
    const dataArgs = broker.dataDir === null ? [] : ["--data-dir", broker.dataDir];
    const [fill] = await generate(scenario.script, [...common, ...dataArgs, "--phase", "fill"]);
    if (fill === undefined) throw new Error("backlog fill printed no result");
    let restart: Record<string, unknown> = {
      restartMs: null,
      stopMs: null,
      diskAfterStopMiB: null,
    };
    if (spec.durable) {
      const stopMs = await stopBroker(broker);
      const diskAfterStop = broker.dataDir === null ? null : dirBytes(broker.dataDir);
      broker = await start(spec, dir, port);
      restart = {
        restartMs: round(broker.readyMs),
        stopMs: round(stopMs),
        diskAfterStopMiB: diskAfterStop === null ? null : round(diskAfterStop / 2 ** 20),
      };
    }
    const [drain] = await generate(scenario.script, [
      "--port",
      String(port),
      "--pid",
      String(broker.pid),
      "--phase",
      "drain",
    ]);
    if (drain === undefined) throw new Error("backlog drain printed no result");
    const result = { ...fill, ...restart, ...drain, phase: "fill+restart+drain" };
    appendFileSync(outPath, `${JSON.stringify({ broker: spec.name, ...result })}\n`);
    return scenario.metrics(result);
  } finally {
    await stopBroker(broker);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fan-in with one, then two generator processes on the generator CPU. */
async function generatorCheck(spec: BrokerSpec, qos: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `bench-check-${spec.name}-`));
  const port = await freePort();
  const broker = await start(spec, dir, port);
  try {
    const args = ["--port", String(port), "--pid", String(broker.pid), "--qos", String(qos)];
    const [one] = await generate("fan-in.ts", args);
    const two = await Promise.all([
      generate("fan-in.ts", [...args, "--prefix", "bench/check-a"]),
      generate("fan-in.ts", [...args, "--prefix", "bench/check-b"]),
    ]);
    const rate = (r: Record<string, unknown> | undefined): number => Number(r?.msgPerSec ?? 0);
    const single = rate(one);
    const double = rate(two[0]?.[0]) + rate(two[1]?.[0]);
    const gain = round(((double - single) / single) * 100);
    const generatorCpu = Number(one?.generatorCpuPercent ?? 0);
    const brokerCpu = Number(one?.brokerCpuPercent ?? 0);
    const verdict = generatorVerdict({
      generatorCpuPercent: generatorCpu,
      brokerCpuPercent: brokerCpu,
      gainPercent: gain,
    });
    return (
      `${spec.name} fan-in QoS ${qos}: 1 generator ${single} msg/s ` +
      `(generator CPU ${generatorCpu}%, broker CPU ${brokerCpu}%), ` +
      `2 generators ${double} msg/s (${gain >= 0 ? "+" : ""}${gain}%) -> ${verdict}`
    );
  } finally {
    await stopBroker(broker);
    rmSync(dir, { recursive: true, force: true });
  }
}

function machine(): string[] {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  let mosquittoVersion = "not installed";
  try {
    mosquittoVersion =
      execFileSync("/usr/sbin/mosquitto", ["-h"], { encoding: "utf8" }).split("\n")[0] ?? "";
  } catch (err) {
    // `mosquitto -h` prints its usage and exits 3; the version is the first line.
    const out = (err as { stdout?: string }).stdout;
    if (typeof out === "string") mosquittoVersion = out.split("\n")[0] ?? "";
  }
  const aedesVersion = (
    JSON.parse(readFileSync(join(REPO_ROOT, "node_modules/aedes/package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  return [
    `- machine: ${cpus().length} CPUs, ${model}, ${Math.round(Number(execFileSync("awk", ["/MemTotal/ {print $2}", "/proc/meminfo"], { encoding: "utf8" })) / 2 ** 20)} GiB`,
    `- Node ${process.version}, ${mosquittoVersion.trim()}, aedes ${aedesVersion}`,
    `- brokers pinned to CPU 0, generator to CPU 1 (taskset); medians of ${runs} runs`,
  ];
}

async function main(): Promise<void> {
  const brokers = pick(allBrokers, values.brokers, "broker").filter((b) => {
    const reason = b.unavailable();
    if (reason !== null) log(`skipping ${b.name}: ${reason}`);
    return reason === null;
  });
  const chosen = pick(scenarios, values.scenarios, "scenario");
  log(`raw results: ${outPath}`);
  const results = new Map<string, Metrics[]>();
  for (let run = 1; run <= runs; run++) {
    for (const spec of brokers) {
      for (const scenario of chosen) {
        log(`run ${run}/${runs} ${spec.name} ${scenario.name}`);
        const metrics = await runScenario(spec, scenario);
        const key = spec.name;
        results.set(key, [...(results.get(key) ?? []), metrics]);
      }
    }
  }
  const checks: string[] = [];
  if (values.check === "yes") {
    for (const spec of brokers) {
      for (const qos of [0, 1]) {
        log(`generator check ${spec.name} QoS ${qos}`);
        checks.push(await generatorCheck(spec, qos));
      }
    }
  }
  const command = `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim();
  const lines = [
    ...machine(),
    `- command: \`${command}\``,
    "",
    renderTable(
      brokers.map((b) => b.name),
      results,
    ),
    "",
    ...(checks.length > 0
      ? [
          "Generator check (is the load generator the bottleneck?):",
          "",
          ...checks.map((c) => `- ${c}`),
        ]
      : []),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of liveBrokers) child.kill("SIGKILL");
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
