// Test helpers: an in-process broker on 127.0.0.1 port 0 with a fresh data
// directory, real mqtt clients, and a raw-socket client for the cases a
// well-behaved client library cannot produce. Everything is cleaned up in
// t.after; waiting is on events, with timeouts only as a safety net.

import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { type Broker, startBroker } from "../../src/broker.ts";
import type { Config, ConnectionsConfig, ListenerConfig } from "../../src/config/types.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import {
  createDecoder,
  encodePacket,
  type MqttPacket,
  type ProtocolVersion,
} from "../../src/protocol/index.ts";

export const SAFETY_TIMEOUT_MS = 5000;

export function connectionsConfig(overrides: Partial<ConnectionsConfig> = {}): ConnectionsConfig {
  return {
    connectionTimeoutMs: 5000,
    maxClientIdLen: 256,
    throttleDelayMs: 0,
    maxPayloadSize: 20480,
    maxInflightCount: 100,
    maxInflightSize: 1024,
    dynamicFilters: true,
    maxKeepAliveSec: 65535,
    topicAliasMax: 0,
    receiveMaximum: 100,
    ...overrides,
  };
}

function listener(kind: "v4" | "v5", connections: ConnectionsConfig): ListenerConfig {
  return {
    kind,
    key: "1",
    name: `${kind}-1`,
    host: "127.0.0.1",
    port: 0,
    nextConnectionDelayMs: 0,
    connections,
  };
}

export interface TestBrokerOptions {
  connections?: Partial<ConnectionsConfig>;
  maxConnections?: number;
  nextConnectionDelayMs?: number;
  dir?: string;
  /** Segment size and count of the commit log, and closed segments kept in memory. */
  maxSegmentSize?: number;
  maxSegmentCount?: number;
  cacheSegments?: number;
  /** `router.shared_subscriptions_strategy`; roundrobin by default. */
  sharedStrategy?: Config["router"]["sharedSubscriptionsStrategy"];
  /** Where the broker logs; silent (or TEST_LOG_LEVEL) by default. */
  logger?: Logger;
}

export function testConfig(dir: string, options: TestBrokerOptions = {}): Config {
  const connections = connectionsConfig(options.connections);
  const listeners = [listener("v4", connections), listener("v5", connections)].map((l) => ({
    ...l,
    nextConnectionDelayMs: options.nextConnectionDelayMs ?? 0,
  }));
  return {
    file: join(dir, "test.toml"),
    id: 0,
    router: {
      id: 0,
      maxConnections: options.maxConnections ?? 10010,
      maxOutgoingPacketCount: 200,
      maxSegmentSize: options.maxSegmentSize ?? 1024 * 1024,
      maxSegmentCount: options.maxSegmentCount ?? 10,
      sharedSubscriptionsStrategy: options.sharedStrategy ?? "roundrobin",
      initializedFilters: [],
    },
    storage: { dir: join(dir, "data"), sync: "os", cacheSegments: options.cacheSegments ?? 4 },
    listeners,
    warnings: [],
  };
}

export interface TestBroker {
  broker: Broker;
  dir: string;
  /** Port of the MQTT 3.1.1 listener. */
  v4: number;
  /** Port of the MQTT 5 listener. */
  v5: number;
  port(version: 4 | 5): number;
}

export async function startTestBroker(
  t: TestContext,
  options: TestBrokerOptions = {},
): Promise<TestBroker> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "rumqttd-test-")));
  const logger = options.logger ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const broker = await startBroker(testConfig(dir, options), logger);
  t.after(async () => {
    await broker.close();
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  });
  const v4 = broker.addresses.find((a) => a.kind === "v4")?.port ?? 0;
  const v5 = broker.addresses.find((a) => a.kind === "v5")?.port ?? 0;
  return { broker, dir, v4, v5, port: (version) => (version === 5 ? v5 : v4) };
}

/**
 * A real mqtt client (never reconnecting) that is ended in t.after. `setup`
 * runs before the CONNECT goes out, so that listeners see messages a resumed
 * session receives right after CONNACK.
 */
export async function client(
  t: TestContext,
  port: number,
  options: IClientOptions = {},
  setup?: (c: MqttClient) => void,
): Promise<MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    reconnectPeriod: 0,
    connectTimeout: SAFETY_TIMEOUT_MS,
    protocolVersion: 4,
    ...options,
  });
  t.after(() => c.end(true));
  setup?.(c);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
    }),
    "CONNACK",
  );
  return c;
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  /** MQTT 5 properties of the PUBLISH, if any. */
  properties: Record<string, unknown> | undefined;
}

/** Collects messages as they arrive; `next(n)` waits for the n-th. */
export function collect(c: MqttClient): {
  all: Received[];
  next: (count: number) => Promise<Received[]>;
} {
  const all: Received[] = [];
  const waiters: Array<{ count: number; resolve: (r: Received[]) => void }> = [];
  c.on("message", (topic, payload, packet) => {
    all.push({
      topic,
      payload: payload.toString(),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      properties: packet.properties as Record<string, unknown> | undefined,
    });
    for (const w of waiters.splice(0)) {
      if (all.length >= w.count) w.resolve(all.slice(0, w.count));
      else waiters.push(w);
    }
  });
  return {
    all,
    next: (count) =>
      withTimeout(
        new Promise((resolve) => {
          if (all.length >= count) resolve(all.slice(0, count));
          else waiters.push({ count, resolve });
        }),
        `${count} messages`,
      ),
  };
}

export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), SAFETY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A client speaking raw packets over a socket, for protocol violations and unacked flows. */
export class RawClient {
  readonly socket: Socket;
  readonly packets: MqttPacket[] = [];
  readonly closed: Promise<void>;
  #version: ProtocolVersion;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket, version: ProtocolVersion) {
    this.socket = socket;
    this.#version = version;
    const decoder = createDecoder({
      protocolVersion: version,
      maxPacketBytes: 10_000_000,
      onPacket: (packet) => {
        this.packets.push(packet);
        for (const w of this.#waiters.splice(0)) w();
      },
      onError: () => socket.destroy(),
    });
    socket.on("data", (chunk: Buffer) => decoder.push(chunk));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async open(t: TestContext, port: number, version: ProtocolVersion): Promise<RawClient> {
    const socket = netConnect({ host: "127.0.0.1", port });
    await once(socket, "connect");
    const raw = new RawClient(socket, version);
    t.after(() => socket.destroy());
    return raw;
  }

  send(packet: MqttPacket): void {
    this.socket.write(encodePacket(packet, this.#version));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** CONNECT with the given fields; resolves with the CONNACK. */
  async connect(
    fields: Partial<Extract<MqttPacket, { cmd: "connect" }>> = {},
  ): Promise<MqttPacket> {
    this.send({
      cmd: "connect",
      protocolId: this.#version === 3 ? "MQIsdp" : "MQTT",
      protocolVersion: this.#version,
      clean: true,
      clientId: "raw",
      keepalive: 0,
      ...fields,
    } as MqttPacket);
    return this.next((p) => p.cmd === "connack");
  }

  /** Waits for the first packet (received from now on or earlier, unconsumed) matching `match`. */
  next(match: (packet: MqttPacket) => boolean): Promise<MqttPacket> {
    return withTimeout(
      new Promise((resolve) => {
        const check = (): void => {
          const i = this.packets.findIndex(match);
          if (i >= 0) resolve(this.packets.splice(i, 1)[0] as MqttPacket);
          else this.#waiters.push(check);
        };
        check();
      }),
      "a packet",
    );
  }

  /** Resolves when the broker closes the connection. */
  waitClosed(): Promise<void> {
    return withTimeout(this.closed, "the connection to close");
  }
}
