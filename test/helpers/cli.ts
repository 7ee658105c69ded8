// Helpers for process tests of the rumqttd command: a config file in a fresh
// temporary folder, and a spawned broker that resolves once it has logged
// `broker.ready` with its bound ports. The child is SIGKILLed in t.after if
// it is still running.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import { withTimeout } from "./broker.ts";

export const root = new URL("../../", import.meta.url).pathname;
export const CLI = ["--import", "tsx", "src/cli/rumqttd.ts"];

export const CONFIG = `[router]
id = 0
max_segment_size = 1048576

[storage]
dir = "data"
sync = "fsync"

[v4.1]
listen = "127.0.0.1:0"

[v5.1]
listen = "127.0.0.1:0"
`;

export async function configFile(
  t: TestContext,
  text: string,
): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "broker.toml");
  await writeFile(file, text);
  return { dir, file };
}

export interface Ready {
  child: ChildProcess;
  ports: Record<string, number>;
  lines: Array<Record<string, unknown>>;
}

export async function startCli(
  t: TestContext,
  file: string,
  command: string[] = CLI,
): Promise<Ready> {
  const child = spawn(process.execPath, [...command, "--config", file], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const lines: Array<Record<string, unknown>> = [];
  const ready = new Promise<Record<string, number>>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`exited with ${code} before broker.ready`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.event === "broker.ready") {
        const listeners = entry.listeners as Array<{ kind: string; port: number }>;
        resolve(Object.fromEntries(listeners.map((l) => [l.kind, l.port])));
      }
    });
  });
  const ports = await withTimeout(ready, "broker.ready");
  return { child, ports, lines };
}
