// Shared helpers of the benchmark scripts: command-line options, bounded waiting, reading a
// process's memory and CPU from /proc, bytes of a directory, percentiles and JSON output.
// Called by: the scenario scripts and run.ts. Nothing here sends MQTT.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

export interface Target {
  host: string;
  port: number;
  /** The broker's pid, for memory readings; absent when the broker runs elsewhere. */
  pid: number | null;
}

/** Parses `--host --port --pid` plus the scenario's own options (all strings). */
export function parseOptions(extra: Record<string, { default: string }>): {
  target: Target;
  values: Record<string, string>;
} {
  const options: Record<string, { type: "string"; default?: string }> = {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "1883" },
    pid: { type: "string" },
  };
  for (const [name, { default: value }] of Object.entries(extra)) {
    options[name] = { type: "string", default: value };
  }
  const { values } = parseArgs({ options, strict: true, allowPositionals: false });
  const strings = values as Record<string, string | undefined>;
  const out: Record<string, string> = {};
  for (const name of Object.keys(extra)) out[name] = strings[name] ?? "";
  return {
    target: {
      host: strings.host ?? "127.0.0.1",
      port: Number(strings.port),
      pid: strings.pid === undefined ? null : Number(strings.pid),
    },
    values: out,
  };
}

export function int(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
  return n;
}

export type WaitOutcome = "done" | "timeout" | "stalled";

/**
 * Polls `isDone` every 10 ms until it holds, `timeoutMs` passes, or `progress()` has not changed
 * for `stallMs`. Bounded by construction; the caller reports the outcome.
 */
export function waitUntil(
  isDone: () => boolean,
  progress: () => number,
  timeoutMs: number,
  stallMs: number,
): Promise<WaitOutcome> {
  const start = performance.now();
  let last = progress();
  let lastChange = start;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const p = progress();
      if (p !== last) {
        last = p;
        lastChange = now;
      }
      let outcome: WaitOutcome | null = null;
      if (isDone()) outcome = "done";
      else if (now - start > timeoutMs) outcome = "timeout";
      else if (now - lastChange > stallMs) outcome = "stalled";
      if (outcome !== null) {
        clearInterval(timer);
        resolve(outcome);
      }
    }, 10);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** VmRSS of a process in bytes, or null when it cannot be read. */
export function rssBytes(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** utime + stime of a process in clock ticks (1/100 s on Linux), or null. */
export function cpuTicks(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

export const TICKS_PER_SEC = 100;

/** Sum of the sizes of all files under `dir` (apparent size), 0 if it does not exist. */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Nearest-rank percentile of an ascending sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** CPU time this process used since `since` (from process.cpuUsage()) as % of one core. */
export function ownCpuPercent(since: NodeJS.CpuUsage, wallMs: number): number {
  return cpuPercent(process.cpuUsage(since), wallMs);
}

/** CPU time `used` (µs, as process.cpuUsage gives it) as a percentage of one core over `wallMs`. */
export function cpuPercent(used: NodeJS.CpuUsage, wallMs: number): number {
  return round(((used.user + used.system) / 1000 / wallMs) * 100);
}

/** Prints the one JSON result line a scenario script ends with. */
export function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs a scenario's main and exits: 0 on success, 1 with a one-line cause otherwise. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** Opens `count` connections with at most `concurrency` handshakes in flight. */
export async function openMany<T>(
  count: number,
  concurrency: number,
  open: (index: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++;
      out[i] = await open(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}
