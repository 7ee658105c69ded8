// The brokers run.ts compares, each as a small descriptor, and how to start, probe and stop one.
//
// Owns: writing each broker's config into a fresh temp dir, starting it pinned to CPU 0 with
// `taskset`, waiting until it is ready (a log line, or else an MQTT CONNECT answered with a
// CONNACK), and stopping it with SIGTERM (SIGKILL after STOP_TIMEOUT_MS).
// Called by: run.ts. Adding a broker means adding one BrokerSpec to `allBrokers`.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { RawClient } from "./load/client.ts";
import { sleep } from "./load/common.ts";

export const REPO_ROOT = new URL("../..", import.meta.url).pathname;
export const BROKER_CPU = "0";
export const GENERATOR_CPU = "1";
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;
const PROBE_INTERVAL_MS = 10;
/**
 * Outgoing QoS 1/2 messages in flight per client, the same for every broker that has such a
 * limit (our max_inflight_count, mosquitto's max_inflight_messages; aedes has none).
 */
export const INFLIGHT_WINDOW = 100;
const MOSQUITTO = "/usr/sbin/mosquitto";
const OUR_CLI_SOURCE = join(REPO_ROOT, "src/cli/rumqttd.ts");
const OUR_CLI_BUILT = join(REPO_ROOT, "dist/src/cli/rumqttd.js");

export interface Launch {
  command: string;
  args: string[];
  /** Where the broker keeps its data (for bytes on disk), or null if it keeps none. */
  dataDir: string | null;
  /** A line on stdout/stderr that means ready; null means: probe with MQTT CONNECT. */
  readyLine: RegExp | null;
}

export interface BrokerSpec {
  name: string;
  /** Keeps sessions and queued messages across a restart. */
  durable: boolean;
  /** Why it cannot run on this machine, or null. */
  unavailable(): string | null;
  /** Writes its config into `dir` (a fresh temp dir) and says how to start it. */
  prepare(dir: string, port: number): Launch;
}

const mosquitto: BrokerSpec = {
  name: "mosquitto",
  durable: true,
  unavailable: () =>
    existsSync(MOSQUITTO) ? null : `${MOSQUITTO} not found (apt-get install -y mosquitto)`,
  prepare(dir, port) {
    const dataDir = join(dir, "data");
    // mosquitto 2.0 refuses anonymous clients unless a listener says otherwise.
    // max_queued_messages 0 (no limit): the default 1000 is too small for the backlog scenario,
    // and with a finite limit 2.0.11 dropped a few hundred messages in long fan-in runs although
    // never more than 800 were outstanding. Persistence writes mosquitto.db on exit and on the
    // autosave interval (default 1800 s), not per message.
    const conf = [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      // Started as root, mosquitto switches to user "mosquitto", which cannot write the private
      // temp dir, and then silently persists nothing; "root" means: do not switch.
      "user root",
      "max_queued_messages 0",
      // The same outgoing window as our broker's max_inflight_count (mosquitto's default is
      // 20); it also bounds the QoS 2 publishes mosquitto takes from a v3.1.1 client.
      `max_inflight_messages ${INFLIGHT_WINDOW}`,
      "persistence true",
      `persistence_location ${dataDir}/`,
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "connection_messages false",
      "",
    ].join("\n");
    mkdirSync(dataDir, { recursive: true });
    const confPath = join(dir, "mosquitto.conf");
    writeFileSync(confPath, conf);
    return { command: MOSQUITTO, args: ["-c", confPath], dataDir, readyLine: null };
  },
};

const aedes: BrokerSpec = {
  name: "aedes",
  durable: false,
  unavailable: () =>
    existsSync(join(REPO_ROOT, "node_modules/aedes")) ? null : "aedes not installed (npm ci)",
  prepare(_dir, port) {
    return {
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        join(REPO_ROOT, "tools/bench/aedes-server.ts"),
        "--port",
        String(port),
      ],
      dataDir: null,
      readyLine: /"event":"aedes\.ready"/,
    };
  },
};

function ours(sync: "fsync" | "os"): BrokerSpec {
  return {
    name: `rumqttd-${sync}`,
    durable: true,
    unavailable: () =>
      existsSync(OUR_CLI_SOURCE) || existsSync(OUR_CLI_BUILT)
        ? null
        : "src/cli/rumqttd.ts does not exist yet on this branch (merge main once it has the CLI)",
    prepare(dir, port) {
      const dataDir = join(dir, "data");
      const toml = [
        "id = 0",
        "",
        "[router]",
        "id = 0",
        "max_connections = 10010",
        "max_outgoing_packet_count = 200",
        "max_segment_size = 104857600",
        "max_segment_count = 10",
        "",
        "[storage]",
        `dir = "${dataDir}"`,
        `sync = "${sync}"`,
        "",
        "[v4.1]",
        'name = "v4-1"',
        `listen = "127.0.0.1:${port}"`,
        "next_connection_delay_ms = 0",
        "  [v4.1.connections]",
        "  connection_timeout_ms = 60000",
        "  max_client_id_len = 256",
        "  max_payload_size = 20480",
        `  max_inflight_count = ${INFLIGHT_WINDOW}`,
        "",
      ].join("\n");
      const configPath = join(dir, "rumqttd.toml");
      writeFileSync(configPath, toml);
      // The built entry point starts faster and runs what users run; fall back to the source.
      // Warnings and errors only, as mosquitto is configured above (log_type error/warning,
      // connection_messages false): a line per connection costs time and memory in both.
      // The ready line is an info line, so readiness is probed with MQTT as for mosquitto.
      const cli = existsSync(OUR_CLI_BUILT) ? [OUR_CLI_BUILT] : ["--import", "tsx", OUR_CLI_SOURCE];
      return {
        command: process.execPath,
        args: [...cli, "--config", configPath, "--log-level", "warn"],
        dataDir,
        readyLine: null,
      };
    },
  };
}

export const allBrokers: BrokerSpec[] = [mosquitto, aedes, ours("fsync"), ours("os")];

/** Brokers started and not yet exited, so run.ts can stop them if it is interrupted. */
export const liveBrokers = new Set<ChildProcess>();

export interface RunningBroker {
  spec: BrokerSpec;
  pid: number;
  port: number;
  dataDir: string | null;
  /** Spawn to ready, in milliseconds. */
  readyMs: number;
  child: ChildProcess;
  exited: Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** Starts the broker described by `launch`, pinned to BROKER_CPU, and waits until it is ready. */
export async function startBroker(
  spec: BrokerSpec,
  launch: Launch,
  port: number,
  logPath: string,
): Promise<RunningBroker> {
  const started = performance.now();
  const child = spawn("taskset", ["-c", BROKER_CPU, launch.command, ...launch.args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(logPath, { flags: "a" });
  let sawReadyLine = false;
  let tail = "";
  const onOutput = (chunk: Buffer): void => {
    log.write(chunk);
    if (launch.readyLine === null || sawReadyLine) return;
    tail = (tail + chunk.toString("utf8")).slice(-4096);
    if (launch.readyLine.test(tail)) sawReadyLine = true;
  };
  child.stdout?.on("data", onOutput);
  child.stderr?.on("data", onOutput);
  let exitCode: number | null | undefined;
  liveBrokers.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      liveBrokers.delete(child);
      exitCode = code;
      log.end();
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name}: could not spawn ${launch.command}`);
  while (true) {
    if (exitCode !== undefined)
      throw new Error(`${spec.name} exited with ${exitCode}; see ${logPath}`);
    if (performance.now() - started > READY_TIMEOUT_MS) {
      child.kill("SIGKILL");
      throw new Error(`${spec.name} not ready after ${READY_TIMEOUT_MS} ms; see ${logPath}`);
    }
    if (launch.readyLine === null ? await probe(port) : sawReadyLine) break;
    await sleep(PROBE_INTERVAL_MS);
  }
  return {
    spec,
    pid,
    port,
    dataDir: launch.dataDir,
    readyMs: performance.now() - started,
    child,
    exited,
  };
}

/** True when an MQTT CONNECT on `port` gets a CONNACK. */
async function probe(port: number): Promise<boolean> {
  try {
    const { client } = await RawClient.connect({
      host: "127.0.0.1",
      port,
      clientId: "bench-probe",
      clean: true,
      timeoutMs: 1000,
    });
    client.destroy();
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns how long the stop took. */
export async function stopBroker(broker: RunningBroker): Promise<number> {
  const started = performance.now();
  broker.child.kill("SIGTERM");
  const timer = setTimeout(() => broker.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await broker.exited;
  clearTimeout(timer);
  return performance.now() - started;
}
