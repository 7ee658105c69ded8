// A broker whose listeners use one transport (TCP, TLS, WebSocket or WSS),
// and mqtt client options to reach it, so that one behaviour suite runs over
// each transport and protocol version (as MQTT.js's abstract_client does).
// TCP and TLS get a v4 and a v5 listener; WebSocket and WSS one `[ws.N]`
// listener that serves both versions.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { type Broker, startBroker } from "../../src/broker.ts";
import type {
  AuthorizationConfig,
  Config,
  ListenerConfig,
  TlsConfig,
} from "../../src/config/types.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import {
  connectionsConfig,
  SAFETY_TIMEOUT_MS,
  type TestBrokerOptions,
  testConfig,
  withTimeout,
} from "./broker.ts";
import { testCerts } from "./certs.ts";

export type Transport = "tcp" | "tls" | "ws" | "wss";
export const TRANSPORTS: readonly Transport[] = ["tcp", "tls", "ws", "wss"];

export interface TransportBrokerOptions extends TestBrokerOptions {
  authorization?: AuthorizationConfig;
  /** TLS: require client certificates signed by the test CA (`capath`). */
  clientCertificates?: boolean;
  /** TLS: the server certificate as a PKCS#12 bundle instead of PEM files. */
  pkcs12?: boolean;
  logger?: Logger;
}

export interface TransportBroker {
  broker: Broker;
  transport: Transport;
  /** The URL a client of `version` connects to. */
  url(version: 4 | 5): string;
  /** mqtt options for this transport (CA, client certificate), before the test's own. */
  clientOptions(version: 4 | 5, withClientCert?: boolean): IClientOptions;
}

export function tlsConfig(options: TransportBrokerOptions = {}): TlsConfig {
  const certs = testCerts();
  const server = options.pkcs12
    ? { pkcs12Path: certs.pkcs12Path, pkcs12Pass: certs.pkcs12Pass }
    : { certPath: certs.serverCertPath, keyPath: certs.serverKeyPath };
  return options.clientCertificates ? { ...server, caPath: certs.caPath } : server;
}

export function transportConfig(
  dir: string,
  transport: Transport,
  options: TransportBrokerOptions = {},
): Config {
  const base = testConfig(dir, options);
  const secure = transport === "tls" || transport === "wss";
  const template = base.listeners[0] as ListenerConfig;
  const make = (kind: ListenerConfig["kind"]): ListenerConfig => ({
    ...template,
    kind,
    name: `${kind}-1`,
    connections: connectionsConfig(options.connections),
    ...(secure ? { tls: tlsConfig(options) } : {}),
  });
  const listeners =
    transport === "ws" || transport === "wss" ? [make("ws")] : [make("v4"), make("v5")];
  return {
    ...base,
    listeners,
    ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
  };
}

/** Where cleanup goes: a test's context (`t`) or a suite's `{ after }` from node:test. */
export interface Cleanup {
  after(fn: () => Promise<void>): void;
}

export async function startTransportBroker(
  t: Cleanup,
  transport: Transport,
  options: TransportBrokerOptions = {},
): Promise<TransportBroker> {
  const dir = await mkdtemp(join(tmpdir(), `rumqttd-${transport}-`));
  const logger = options.logger ?? createLogger({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const broker = await startBroker(transportConfig(dir, transport, options), logger);
  t.after(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  const portOf = (version: 4 | 5): number => {
    const kind = transport === "ws" || transport === "wss" ? "ws" : `v${version}`;
    return broker.addresses.find((a) => a.kind === kind)?.port ?? 0;
  };
  const scheme = { tcp: "mqtt", tls: "mqtts", ws: "ws", wss: "wss" }[transport];
  const certs = testCerts();
  return {
    broker,
    transport,
    url: (version) => `${scheme}://127.0.0.1:${portOf(version)}`,
    clientOptions: (version, withClientCert = options.clientCertificates ?? false) => ({
      protocolVersion: version,
      ...(transport === "tls" || transport === "wss"
        ? {
            ca: certs.ca,
            rejectUnauthorized: true,
            ...(withClientCert ? { cert: certs.clientCert, key: certs.clientKey } : {}),
          }
        : {}),
    }),
  };
}

/** A connected mqtt client (never reconnecting), ended in t.after. */
export async function connectTo(
  t: TestContext,
  url: string,
  options: IClientOptions,
): Promise<MqttClient> {
  const c = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: SAFETY_TIMEOUT_MS,
    ...options,
  });
  t.after(() => c.end(true));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      c.once("connect", () => resolve());
      c.once("error", reject);
      c.once("close", () => reject(new Error("closed before CONNACK")));
    }),
    `CONNACK from ${url}`,
  );
  return c;
}

/** Connects and expects a refusal; resolves with the CONNACK code mqtt.js reports, if any. */
export async function refusedCode(
  t: TestContext,
  url: string,
  options: IClientOptions,
): Promise<number | undefined> {
  const c = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: SAFETY_TIMEOUT_MS,
    ...options,
  });
  t.after(() => c.end(true));
  return withTimeout(
    new Promise<number | undefined>((resolve, reject) => {
      c.once("connect", () => reject(new Error("connected, but a refusal was expected")));
      c.once("error", (error: Error & { code?: unknown }) =>
        resolve(typeof error.code === "number" ? error.code : undefined),
      );
      c.once("close", () => resolve(undefined));
    }),
    `a refusal from ${url}`,
  );
}

/** Subscribes and resolves with the SUBACK's codes as sent (mqtt.js rejects on refusals). */
export function subackCodes(c: MqttClient, filter: string, qos: 0 | 1 | 2): Promise<number[]> {
  return withTimeout(
    new Promise((resolve) => {
      const onPacket = (packet: { cmd: string; granted?: unknown }): void => {
        if (packet.cmd !== "suback") return;
        c.off("packetreceive", onPacket);
        resolve(packet.granted as number[]);
      };
      c.on("packetreceive", onPacket);
      c.subscribe(filter, { qos }, () => undefined);
    }),
    "SUBACK",
  );
}
