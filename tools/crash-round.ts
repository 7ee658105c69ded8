// One crash round against the rumqttd CLI as a real process, shared by the
// process tests (test/durability/kill.test.ts) and the drill
// (tools/crash-drill.ts). A round: start the broker on a fresh data directory,
// give a persistent subscriber its session and subscription, stream numbered
// messages from a publisher (every tenth one retained on one of four topics)
// recording each acknowledgement, stop the broker with a signal at a random
// moment, restart it on the same directory, reconnect the subscriber and the
// publisher (both keep their client-side stores across the restart, as a
// durable client would), drain, and count what was acknowledged, lost and
// duplicated. The round never asserts; callers judge the counts.
//
// Waiting is on events (`broker.ready`, acknowledgements, markers); the only
// timer is the deliberate random kill moment, and every wait has a safety
// timeout.

import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import mqtt, { type IClientOptions, type MqttClient, Store } from "mqtt";

export const ROOT = new URL("../", import.meta.url).pathname;
export const CLI = ["--import", "tsx", "src/cli/rumqttd.ts"];
const WAIT_MS = 20_000;
const LOG_FILE = process.env.CRASH_ROUND_LOG;
/** Unacknowledged publishes in flight from the publisher, below receive_maximum (100). */
const PUBLISH_WINDOW = 20;
const RETAINED_TOPICS = 4;

export type Version = 4 | 5;
export type Qos = 1 | 2;

export interface RoundOptions {
  version: Version;
  qos: Qos;
  /** The subscriber is disconnected during the stream (true) or connected (false). */
  offline: boolean;
  signal: "SIGKILL" | "SIGTERM";
  sync: "fsync" | "os";
  messages: number;
  /** Defaults to Math.random; the kill moment is a random count of acknowledgements. */
  random?: () => number;
}

export interface RoundResult {
  options: Omit<RoundOptions, "random">;
  sent: number;
  acknowledged: number;
  /** Acknowledged message numbers never delivered to the subscriber. */
  lost: number[];
  /** Message numbers the subscriber received more than once (allowed at QoS 1). */
  duplicated: number[];
  /**
   * Duplicates by cause (QoS 2): `stoppedBeforePubrec`, the publisher had no
   * PUBREC for the message before the stop and resent it; `resentAfterPubrel`,
   * the subscriber was sent the message again with DUP after the restart.
   * `unexplained` is every other duplicate.
   */
  duplicatedBy: {
    stoppedBeforePubrec: number[];
    resentAfterPubrel: number[];
    unexplained: number[];
  };
  /** Delivered but never acknowledged to the publisher (allowed). */
  unacknowledgedDelivered: number;
  sessionPresent: { subscriber: boolean; publisher: boolean };
  /** Retained topics whose value after the restart is older than the last acknowledged one. */
  staleRetained: string[];
  killedAfterAcks: number;
  restartMs: number;
}

export function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface RunningBroker {
  child: ChildProcess;
  ports: { v4: number; v5: number };
  exited: Promise<number | null>;
}

export function brokerConfig(dataDir: string, sync: "fsync" | "os"): string {
  return `[router]
id = 0
max_segment_size = 1048576

[storage]
dir = ${JSON.stringify(dataDir)}
sync = "${sync}"

[v4.1]
listen = "127.0.0.1:0"

[v5.1]
listen = "127.0.0.1:0"
`;
}

/** Spawns the CLI and resolves once it logs `broker.ready` with its ports. */
export async function spawnBroker(file: string): Promise<RunningBroker> {
  const child = spawn(process.execPath, [...CLI, "--config", file], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += String(chunk);
  });
  const ready = new Promise<{ v4: number; v5: number }>((resolve, reject) => {
    void exited.then((code) =>
      reject(new Error(`broker exited with ${code} before broker.ready: ${stderr}`)),
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      // CRASH_ROUND_LOG=FILE keeps every broker log line, to diagnose a failed round.
      if (LOG_FILE !== undefined) appendFileSync(LOG_FILE, `${child.pid} ${line}\n`);
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.event === "broker.ready") {
        const listeners = entry.listeners as Array<{ kind: string; port: number }>;
        const port = (kind: string) => listeners.find((l) => l.kind === kind)?.port ?? 0;
        resolve({ v4: port("v4"), v5: port("v5") });
      }
    });
  });
  try {
    return { child, ports: await withTimeout(ready, "broker.ready"), exited };
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}

function connectOptions(
  version: Version,
  clientId: string,
  first: boolean,
  stores: { incomingStore: Store; outgoingStore: Store },
): IClientOptions {
  // MQTT 5: a session expiry above 0 keeps the session whatever the Clean
  // Start flag; the first connect uses Clean Start 1 to show that.
  const base = { protocolVersion: version, reconnectPeriod: 0, clientId, connectTimeout: WAIT_MS };
  return version === 5
    ? { ...base, ...stores, clean: first, properties: { sessionExpiryInterval: 3600 } }
    : { ...base, ...stores, clean: false };
}

/**
 * Connects and resolves on CONNACK. `setup` attaches handlers before the
 * first packet is read: a resumed session's resends may arrive in the same
 * read as the CONNACK, and MQTT.js acknowledges (QoS 1) and emits them before
 * an `await` on the connection could attach a handler.
 */
async function connect(
  port: number,
  options: IClientOptions,
  setup: (client: MqttClient) => void = () => {},
): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, options);
  client.on("error", () => {});
  setup(client);
  const connack = new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("close", () => reject(new Error("closed before CONNACK")));
  });
  const { sessionPresent } = await withTimeout(connack, "CONNACK");
  return { client, sessionPresent };
}

/** CRASH_ROUND_LOG=FILE also keeps the clients' packets (n, packet id, DUP). */
function trace(client: MqttClient, name: string): void {
  if (LOG_FILE === undefined) return;
  const line = (dir: string, packet: mqtt.Packet) => {
    const p = packet as { cmd: string; messageId?: number; dup?: boolean; payload?: Buffer };
    let n: number | undefined;
    if (p.cmd === "publish" && String(p.payload).startsWith("{")) {
      n = (JSON.parse(String(p.payload)) as { n?: number }).n;
    }
    appendFileSync(LOG_FILE, `${name} ${dir} ${p.cmd} id=${p.messageId} dup=${p.dup} n=${n}\n`);
  };
  client.on("packetreceive", (p) => line("<", p));
  client.on("packetsend", (p) => line(">", p));
}

/**
 * A client-side store that outlives its client: `end()` closes the stores it
 * was given, and a durable client keeps its packet state across reconnects.
 */
class KeptStore extends Store {
  override close(cb: () => void): void {
    cb?.();
  }
}

interface Payload {
  n: number;
}

function topicOf(n: number): string {
  return n % 10 === 0 ? `drill/r/${(n / 10) % RETAINED_TOPICS}` : "drill/m";
}

/** Runs one round in a fresh temporary directory, removed afterwards. */
export async function runRound(options: RoundOptions): Promise<RoundResult> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-drill-"));
  const brokers: RunningBroker[] = [];
  const clients: MqttClient[] = [];
  try {
    return await round(options, dir, brokers, clients);
  } finally {
    for (const c of clients) c.end(true);
    for (const b of brokers) if (b.child.exitCode === null) b.child.kill("SIGKILL");
    await Promise.all(brokers.map((b) => b.exited));
    // CRASH_ROUND_KEEP=1 keeps the data directory of every round for inspection.
    if (process.env.CRASH_ROUND_KEEP === undefined) await rm(dir, { recursive: true, force: true });
    else if (LOG_FILE !== undefined) appendFileSync(LOG_FILE, `data dir ${dir}\n`);
  }
}

async function round(
  options: RoundOptions,
  dir: string,
  brokers: RunningBroker[],
  clients: MqttClient[],
): Promise<RoundResult> {
  const { version, qos, offline, signal, sync, messages } = options;
  const random = options.random ?? Math.random;
  const file = join(dir, "broker.toml");
  await writeFile(file, brokerConfig(join(dir, "data"), sync));
  const first = await spawnBroker(file);
  brokers.push(first);
  const port = (b: RunningBroker) => (version === 5 ? b.ports.v5 : b.ports.v4);

  const subStores = { incomingStore: new KeptStore(), outgoingStore: new KeptStore() };
  const pubStores = { incomingStore: new KeptStore(), outgoingStore: new KeptStore() };
  const received = new Map<number, number>();
  // Messages of which the subscriber got a copy resent with DUP after the
  // restart: a duplicate of one of those at QoS 2 means the broker resent a
  // PUBLISH it had already moved to the PUBREL phase.
  const resentWithDup = new Set<number>();
  let restarted = false;
  const onMessage = (topic: string, payload: Buffer, packet: { dup?: boolean }) => {
    if (!topic.startsWith("drill/")) return;
    const { n } = JSON.parse(String(payload)) as Payload;
    received.set(n, (received.get(n) ?? 0) + 1);
    if (restarted && packet.dup === true) resentWithDup.add(n);
  };

  const sub = await connect(
    port(first),
    connectOptions(version, "drill-sub", true, subStores),
    (client) => {
      client.on("message", onMessage);
      trace(client, "sub1");
    },
  );
  clients.push(sub.client);
  await withTimeout(sub.client.subscribeAsync("drill/#", { qos }), "SUBACK");
  if (offline) await withTimeout(sub.client.endAsync(), "subscriber disconnect");

  const pub = await connect(port(first), connectOptions(version, "drill-pub", true, pubStores));
  clients.push(pub.client);
  trace(pub.client, "pub1");
  const acked = new Set<number>();
  const lastAckedRetained = new Map<string, number>();
  const killAt = 1 + Math.floor(random() * (messages - 1));
  // Which messages the broker had answered with PUBREC before the stop: for
  // those the publisher resends only PUBREL, so a duplicate of one of them
  // means the broker forgot an inbound QoS 2 packet id it had acknowledged.
  const packetIdToN = new Map<number, number>();
  const pubrecBeforeStop = new Set<number>();
  pub.client.on("packetsend", (packet) => {
    if (packet.cmd === "publish" && packet.messageId !== undefined && packet.topic !== "") {
      packetIdToN.set(packet.messageId, (JSON.parse(String(packet.payload)) as Payload).n);
    }
  });
  pub.client.on("packetreceive", (packet) => {
    if (packet.cmd === "pubrec" && packet.messageId !== undefined) {
      const n = packetIdToN.get(packet.messageId);
      if (n !== undefined) pubrecBeforeStop.add(n);
    }
  });
  let sent = 0;
  let closed = false;
  pub.client.on("close", () => {
    closed = true;
  });
  // The stream: a window of publishes in flight; the kill comes when the
  // number of acknowledgements reaches a random count.
  const stream = new Promise<void>((resolve) => {
    let inFlight = 0;
    const pump = () => {
      while (!closed && inFlight < PUBLISH_WINDOW && sent < messages) {
        const n = sent++;
        inFlight++;
        const topic = topicOf(n);
        pub.client.publish(
          topic,
          JSON.stringify({ n } satisfies Payload),
          { qos, retain: topic !== "drill/m" },
          (err) => {
            inFlight--;
            if (!err) {
              acked.add(n);
              if (topic !== "drill/m") {
                lastAckedRetained.set(topic, Math.max(n, lastAckedRetained.get(topic) ?? -1));
              }
              if (acked.size === killAt) resolve();
            }
            pump();
          },
        );
      }
      if (closed || (inFlight === 0 && sent >= messages)) resolve();
    };
    pump();
  });
  await withTimeout(stream, "the stream to reach the kill moment");
  const killedAfterAcks = acked.size;
  first.child.kill(signal);
  const exitCode = await withTimeout(first.exited, "the broker to exit");
  if (signal === "SIGTERM" && exitCode !== 0) throw new Error(`SIGTERM exit code ${exitCode}`);
  await withTimeout(
    Promise.all(
      [pub.client, sub.client].map((c) =>
        c.connected ? new Promise<void>((resolve) => c.once("close", () => resolve())) : undefined,
      ),
    ),
    "the clients to see the close",
  );
  pub.client.end(true);
  sub.client.end(true);

  restarted = true;
  const restartStart = performance.now();
  const second = await spawnBroker(file);
  const restartMs = performance.now() - restartStart;
  brokers.push(second);

  // The publisher first: it resends what its store still holds (PUBLISH
  // with DUP, or PUBREL), then publishes a marker; its acknowledgement means
  // the broker has handled everything the publisher sent before it.
  const pub2 = await connect(port(second), connectOptions(version, "drill-pub", false, pubStores));
  clients.push(pub2.client);
  const markers = new Set<string>();
  const markerWaiters = new Map<string, () => void>();
  const sub2 = await connect(
    port(second),
    connectOptions(version, "drill-sub", false, subStores),
    (client) => {
      trace(client, "sub2");
      client.on("message", (topic, payload, packet) => {
        if (topic === "drill-end") {
          markers.add(String(payload));
          markerWaiters.get(String(payload))?.();
          return;
        }
        onMessage(topic, payload, packet);
      });
    },
  );
  clients.push(sub2.client);
  await withTimeout(sub2.client.subscribeAsync("drill-end", { qos }), "marker SUBACK");
  // Two markers in turn: the session's cursor delivers in log order, so once
  // the second marker arrives everything stored before it has been delivered.
  for (const marker of ["a", "b"]) {
    const arrived = new Promise<void>((resolve) => {
      if (markers.has(marker)) resolve();
      markerWaiters.set(marker, resolve);
    });
    await withTimeout(pub2.client.publishAsync("drill-end", marker, { qos }), "marker ack");
    await withTimeout(arrived, `marker ${marker} at the subscriber`);
  }

  const staleRetained = await checkRetained(port(second), version, lastAckedRetained, clients);

  const lost = [...acked].filter((n) => !received.has(n)).sort((a, b) => a - b);
  const duplicated = [...received]
    .filter(([, count]) => count > 1)
    .map(([n]) => n)
    .sort((a, b) => a - b);
  const unacknowledgedDelivered = [...received.keys()].filter((n) => !acked.has(n)).length;

  second.child.kill("SIGTERM");
  await withTimeout(second.exited, "the second broker to exit");
  const { random: _random, ...rest } = options;
  return {
    options: rest,
    sent,
    acknowledged: acked.size,
    lost,
    duplicated,
    duplicatedBy: {
      stoppedBeforePubrec: duplicated.filter((n) => !pubrecBeforeStop.has(n) && !acked.has(n)),
      resentAfterPubrel: duplicated.filter((n) => resentWithDup.has(n)),
      unexplained: duplicated.filter(
        (n) => (pubrecBeforeStop.has(n) || acked.has(n)) && !resentWithDup.has(n),
      ),
    },
    unacknowledgedDelivered,
    sessionPresent: { subscriber: sub2.sessionPresent, publisher: pub2.sessionPresent },
    staleRetained,
    killedAfterAcks,
    restartMs,
  };
}

/**
 * A fresh clean subscriber reads the retained topics; each value must be at
 * least as new as the last acknowledged one (a later publish the broker
 * stored but never acknowledged may have replaced it).
 */
async function checkRetained(
  port: number,
  version: Version,
  lastAcked: Map<string, number>,
  clients: MqttClient[],
): Promise<string[]> {
  const reader = await connect(port, {
    protocolVersion: version,
    reconnectPeriod: 0,
    clean: true,
    clientId: "drill-retained",
  });
  clients.push(reader.client);
  const values = new Map<string, number>();
  const want = lastAcked.size;
  const all = new Promise<void>((resolve) => {
    if (want === 0) resolve();
    reader.client.on("message", (topic, payload, packet) => {
      if (!packet.retain) return;
      values.set(topic, (JSON.parse(String(payload)) as Payload).n);
      if ([...lastAcked.keys()].every((t) => values.has(t))) resolve();
    });
  });
  await withTimeout(reader.client.subscribeAsync("drill/r/#", { qos: 1 }), "retained SUBACK");
  const stale: string[] = [];
  try {
    await withTimeout(all, "the retained messages");
  } catch {
    // A missing retained value is reported below as stale.
  }
  for (const [topic, n] of lastAcked) {
    const value = values.get(topic);
    if (value === undefined || value < n) stale.push(`${topic}: have ${value}, acked ${n}`);
  }
  reader.client.end(true);
  return stale;
}
