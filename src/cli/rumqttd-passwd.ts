#!/usr/bin/env node
// The `rumqttd-passwd` entry point: hashes a password for a server's `auth`
// table, as mosquitto_passwd does for mosquitto, and prints the TOML line to
// paste under `[vN.x.connections.auth]` (or into its inline table).
//
// The password is read from standard input (first line), or asked for twice
// without echo when standard input is a terminal; it is never taken from the
// command line, where other users could read it in the process list.
//
// Exit codes: 0 printed, 2 bad usage or an empty password or a mismatch.

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { tomlKey, tomlString } from "../../migrations/index.ts";
import { hashPassword, SCRYPT_DEFAULTS } from "../server/password-hash.ts";
import {
  formatScramEntry,
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_MAX_ITERATIONS,
  SCRAM_MIN_ITERATIONS,
} from "../server/scram-credential.ts";

const USAGE = `Usage: rumqttd-passwd [options] USERNAME

Reads a password (from standard input, or asked twice when it is a terminal)
and prints a line for a server's auth table, for example:

  USERNAME = "$scrypt$ln=15,r=8,p=1$<salt>$<hash>"

With --scram it prints a SCRAM-SHA-256 credential instead, which serves both
a CONNECT password and MQTT 5 SCRAM-SHA-256 enhanced authentication:

  USERNAME = "$scram-sha-256$i=4096$<salt>$<StoredKey>$<ServerKey>"

The broker also accepts mosquitto_passwd's $7$ and $6$ hashes as they are.

Options:
      --cost N         scrypt cost as log2 of N (default ${SCRYPT_DEFAULTS.logN}, 10 to 20)
      --scram          print a SCRAM-SHA-256 credential instead of a scrypt hash
      --iterations N   SCRAM PBKDF2 iterations (default ${SCRAM_DEFAULT_ITERATIONS}, ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS})
  -h, --help           show this help
`;

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) return line;
    return "";
  }
  const first = await ask("Password: ");
  const second = await ask("Reenter password: ");
  if (first !== second) throw new UsageError("the passwords do not match");
  return first;
}

/** Asks on the terminal without echoing what is typed. */
function ask(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write(prompt);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let typed = "";
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          process.stderr.write("\n");
          resolve(typed);
          return;
        }
        if (char === "\u0003") process.exit(130); // Ctrl-C
        if (char === "\u007f") typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on("data", onData);
  });
}

class UsageError extends Error {}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      cost: { type: "string" },
      scram: { type: "boolean" },
      iterations: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] === "") {
    throw new UsageError(`expected one USERNAME, got ${positionals.length}`);
  }
  const logN = values.cost === undefined ? SCRYPT_DEFAULTS.logN : Number(values.cost);
  if (!Number.isInteger(logN) || logN < 10 || logN > 20) {
    throw new UsageError("--cost takes a whole number from 10 to 20");
  }
  const iterations =
    values.iterations === undefined ? SCRAM_DEFAULT_ITERATIONS : Number(values.iterations);
  const iterationsOk =
    Number.isInteger(iterations) &&
    iterations >= SCRAM_MIN_ITERATIONS &&
    iterations <= SCRAM_MAX_ITERATIONS;
  if (!iterationsOk || (values.iterations !== undefined && values.scram !== true)) {
    throw new UsageError(
      `--iterations goes with --scram and takes a whole number from ${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS}`,
    );
  }
  const password = await readPassword();
  if (password === "") throw new UsageError("the password is empty");
  const hash =
    values.scram === true
      ? formatScramEntry(password, iterations)
      : hashPassword(password, { ...SCRYPT_DEFAULTS, logN });
  process.stdout.write(`${tomlKey(positionals[0] as string)} = ${tomlString(hash)}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`rumqttd-passwd: ${message}\n`);
    if (err instanceof UsageError) process.stderr.write(`\n${USAGE}`);
    process.exit(err instanceof UsageError || isArgError(err) ? 2 : 1);
  },
);

function isArgError(err: unknown): boolean {
  return (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
}
