// The crash drill of issue 4. Goal: count, over many random kills, how many
// acknowledged messages the broker loses and how many it delivers twice.
// Method: N rounds of tools/crash-round.ts against the CLI as a process, each
// on a fresh data directory, cycling through {MQTT 3.1.1, 5} x {QoS 1, 2} x
// {subscriber offline, online during the stream} x {sync fsync, os}; the
// broker is SIGKILLed (or SIGTERMed with --signal) when a random number of
// publishes has been acknowledged, restarted on the same directory, and the
// subscriber drains its session. Prints one table row per round, a summary
// per QoS, and a final JSON line; exits 1 if an acknowledged message was lost
// or a QoS 2 message was delivered twice.
//
// Usage: node --import tsx tools/crash-drill.ts [ROUNDS] [--messages N]
//        [--signal SIGKILL|SIGTERM] [--seed S]

import { parseArgs } from "node:util";
import { type Qos, type RoundResult, runRound, type Version } from "./crash-round.ts";

const MAX_ROUNDS = 10_000;

/** A small seeded PRNG (mulberry32) so that a run's kill moments can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Totals {
  rounds: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
}

function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      messages: { type: "string", default: "300" },
      signal: { type: "string", default: "SIGKILL" },
      seed: { type: "string" },
    },
  });
  const rounds = Number(positionals[0] ?? "8");
  const messages = Number(values.messages);
  const signal = values.signal;
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  if (
    !Number.isInteger(rounds) ||
    rounds < 1 ||
    rounds > MAX_ROUNDS ||
    !Number.isInteger(messages) ||
    messages < 2 ||
    (signal !== "SIGKILL" && signal !== "SIGTERM") ||
    !Number.isInteger(seed)
  ) {
    console.error(
      "usage: crash-drill.ts [ROUNDS 1..10000] [--messages N>=2] [--signal SIGKILL|SIGTERM] [--seed S]",
    );
    return Promise.resolve(2);
  }
  return drill(rounds, messages, signal, seed);
}

async function drill(
  rounds: number,
  messages: number,
  signal: "SIGKILL" | "SIGTERM",
  seed: number,
): Promise<number> {
  const random = seeded(seed);
  console.log(`crash drill: ${rounds} rounds, ${messages} messages each, ${signal}, seed ${seed}`);
  console.log(
    ["round", "mqtt", "qos", "subscriber", "sync", "killed@", "acked", "lost", "dup", "restart ms"]
      .map((h) => h.padStart(11))
      .join(""),
  );
  const totals: Record<Qos, Totals> = {
    1: { rounds: 0, acknowledged: 0, lost: 0, duplicated: 0 },
    2: { rounds: 0, acknowledged: 0, lost: 0, duplicated: 0 },
  };
  const failures: Array<Pick<RoundResult, "options" | "lost" | "duplicated" | "duplicatedBy">> = [];
  let maxRestartMs = 0;
  for (let i = 0; i < rounds; i++) {
    const version: Version = i % 2 === 0 ? 4 : 5;
    const qos: Qos = Math.floor(i / 2) % 2 === 0 ? 1 : 2;
    const offline = Math.floor(i / 4) % 2 === 0;
    const sync = Math.floor(i / 8) % 2 === 0 ? "fsync" : "os";
    const result = await runRound({ version, qos, offline, signal, sync, messages, random });
    const total = totals[qos];
    total.rounds++;
    total.acknowledged += result.acknowledged;
    total.lost += result.lost.length;
    total.duplicated += result.duplicated.length;
    maxRestartMs = Math.max(maxRestartMs, result.restartMs);
    const bad = result.lost.length > 0 || (qos === 2 && result.duplicated.length > 0);
    if (bad) {
      failures.push({
        options: result.options,
        lost: result.lost,
        duplicated: result.duplicated,
        duplicatedBy: result.duplicatedBy,
      });
    }
    console.log(
      [
        i + 1,
        version === 4 ? "3.1.1" : "5",
        qos,
        offline ? "offline" : "online",
        sync,
        result.killedAfterAcks,
        result.acknowledged,
        result.lost.length,
        result.duplicated.length,
        Math.round(result.restartMs),
      ]
        .map((c) => String(c).padStart(11))
        .join("") + (bad ? "  <-" : ""),
    );
  }
  for (const qos of [1, 2] as const) {
    const t = totals[qos];
    console.log(
      `QoS ${qos}: ${t.rounds} rounds, acknowledged ${t.acknowledged}, lost ${t.lost}, duplicated ${t.duplicated}${qos === 1 ? " (allowed at QoS 1)" : ""}`,
    );
  }
  for (const f of failures) {
    console.log(
      `failed round ${JSON.stringify(f.options)}: lost ${JSON.stringify(f.lost)}, duplicated ${JSON.stringify(f.duplicated)} ${JSON.stringify(f.duplicatedBy)}`,
    );
  }
  const ok = failures.length === 0;
  console.log(
    JSON.stringify({
      drill: "crash",
      signal,
      seed,
      rounds,
      messages,
      qos1: totals[1],
      qos2: totals[2],
      maxRestartMs: Math.round(maxRestartMs),
      ok,
    }),
  );
  return ok ? 0 : 1;
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
