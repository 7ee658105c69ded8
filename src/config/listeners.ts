// Reads the server tables `[v4.N]`, `[v5.N]`, `[ws.N]` (with their `tls` and
// `connections` sub-tables) into ListenerConfig values, applying rumqttd's
// defaults as CONFIG.md shows them.
//
// Who uses it: parse-config.ts. Problems go to the Checker; nothing throws.

import { isAbsolute, resolve } from "node:path";
import { ANY_COUNT, type Checker, type Table } from "./checker.ts";
import type { KeyPath } from "./line-locator.ts";
import { parseListen } from "./listen.ts";
import type { ConnectionsConfig, ListenerConfig, ListenerKind, TlsConfig } from "./types.ts";

export const LISTENER_KINDS: readonly ListenerKind[] = ["v4", "v5", "ws"];

const SERVER_KEYS = ["name", "listen", "next_connection_delay_ms", "tls", "connections"] as const;
const TLS_KEYS = ["certpath", "keypath", "capath", "pkcs12path", "pkcs12pass"] as const;
export const CONNECTION_KEYS = [
  "connection_timeout_ms",
  "max_client_id_len",
  "throttle_delay_ms",
  "max_payload_size",
  "max_inflight_count",
  "max_inflight_size",
  "dynamic_filters",
  "auth",
  "max_keep_alive",
  "topic_alias_max",
  "receive_maximum",
] as const;

/** Connection keys that are accepted (rumqttd files carry them) but change nothing yet. */
const CONNECTION_KEYS_WITHOUT_EFFECT = [
  "throttle_delay_ms",
  "max_inflight_size",
  "dynamic_filters",
];

/** MQTT's largest packet: 268,435,455 bytes (variable byte integer limit). */
const MAX_PACKET_BYTES = 268_435_455;
const U16: { min: number; max: number } = { min: 1, max: 65_535 };

/** Every listener of every kind, in file order within each kind. */
export function readListeners(check: Checker, root: Table, configDir: string): ListenerConfig[] {
  const listeners: ListenerConfig[] = [];
  for (const kind of LISTENER_KINDS) {
    const servers = check.table(root[kind], [kind]);
    if (servers === undefined) continue;
    for (const [key, value] of Object.entries(servers)) {
      const server = check.table(value, [kind, key]);
      if (server === undefined) continue;
      listeners.push(readServer(check, server, kind, key, configDir));
    }
  }
  checkDistinct(check, listeners);
  return listeners;
}

function readServer(
  check: Checker,
  server: Table,
  kind: ListenerKind,
  key: string,
  configDir: string,
): ListenerConfig {
  const path = [kind, key];
  check.knownKeys(server, path, SERVER_KEYS);
  const listen = check.optionalString(server, "listen", path);
  const address = listen === undefined ? undefined : parseListen(listen);
  if (listen === undefined && server.listen === undefined) {
    check.problem(path, 'missing key `listen` (for example listen = "0.0.0.0:1883")');
  } else if (typeof address === "string") {
    check.problem([...path, "listen"], address);
  }
  const tlsTable = check.table(server.tls, [...path, "tls"]);
  const connections = check.table(server.connections, [...path, "connections"]) ?? {};
  const listener: ListenerConfig = {
    kind,
    key,
    name: check.string(server, "name", path, `${kind}-${key}`),
    host: typeof address === "object" ? address.host : "0.0.0.0",
    port: typeof address === "object" ? address.port : 0,
    nextConnectionDelayMs: check.int(server, "next_connection_delay_ms", path, 1, ANY_COUNT),
    connections: readConnections(check, connections, [...path, "connections"]),
  };
  // A tls table, even an empty one, means TLS: never serve plain text in its place.
  if (tlsTable !== undefined) listener.tls = readTls(check, tlsTable, [...path, "tls"], configDir);
  return listener;
}

function readTls(check: Checker, tls: Table, path: KeyPath, configDir: string): TlsConfig {
  if (Object.keys(tls).length === 0) {
    check.problem(
      path,
      "an empty tls table: TLS needs certpath and keypath, or pkcs12path (remove the table for plain TCP)",
    );
    return {};
  }
  check.knownKeys(tls, path, TLS_KEYS);
  const file = (key: string) => {
    const value = check.optionalString(tls, key, path);
    return value === undefined ? undefined : resolvePath(configDir, value);
  };
  const out: TlsConfig = {};
  const certPath = file("certpath");
  const keyPath = file("keypath");
  const caPath = file("capath");
  const pkcs12Path = file("pkcs12path");
  const pkcs12Pass = check.optionalString(tls, "pkcs12pass", path);
  if (certPath !== undefined) out.certPath = certPath;
  if (keyPath !== undefined) out.keyPath = keyPath;
  if (caPath !== undefined) out.caPath = caPath;
  if (pkcs12Path !== undefined) out.pkcs12Path = pkcs12Path;
  if (pkcs12Pass !== undefined) out.pkcs12Pass = pkcs12Pass;
  const pem = tls.certpath !== undefined || tls.keypath !== undefined;
  if (pem && tls.pkcs12path !== undefined) {
    check.problem(path, "give either certpath and keypath, or pkcs12path, not both");
  } else if (pem && (tls.certpath === undefined || tls.keypath === undefined)) {
    check.problem(path, "certpath and keypath go together: give both");
  } else if (!pem && tls.pkcs12path === undefined) {
    check.problem(path, "missing the server certificate: give certpath and keypath, or pkcs12path");
  }
  if (tls.pkcs12pass !== undefined && tls.pkcs12path === undefined) {
    check.problem([...path, "pkcs12pass"], "pkcs12pass needs pkcs12path");
  }
  return out;
}

/** A server's (or the bridge's) `connections` table, defaults applied. */
export function readConnections(check: Checker, table: Table, path: KeyPath): ConnectionsConfig {
  check.knownKeys(table, path, CONNECTION_KEYS);
  for (const key of CONNECTION_KEYS_WITHOUT_EFFECT) {
    if (table[key] !== undefined) {
      check.warn([...path, key], "accepted for compatibility with rumqttd; it has no effect");
    }
  }
  const out: ConnectionsConfig = {
    connectionTimeoutMs: check.int(table, "connection_timeout_ms", path, 60_000, {
      min: 1,
      max: 2_147_483_647,
    }),
    maxClientIdLen: check.int(table, "max_client_id_len", path, 256, U16),
    throttleDelayMs: check.int(table, "throttle_delay_ms", path, 0, ANY_COUNT),
    maxPayloadSize: check.int(table, "max_payload_size", path, 20_480, {
      min: 1,
      max: MAX_PACKET_BYTES,
    }),
    maxInflightCount: check.int(table, "max_inflight_count", path, 100, U16),
    maxInflightSize: check.int(table, "max_inflight_size", path, 1024, ANY_COUNT),
    dynamicFilters: check.bool(table, "dynamic_filters", path, true),
    maxKeepAliveSec: check.int(table, "max_keep_alive", path, 65_535, U16),
    topicAliasMax: check.int(table, "topic_alias_max", path, 10, { min: 0, max: 65_535 }),
    receiveMaximum: check.int(table, "receive_maximum", path, 100, U16),
  };
  const auth = readAuth(check, table.auth, [...path, "auth"]);
  if (auth !== undefined) out.auth = auth;
  return out;
}

function readAuth(
  check: Checker,
  value: unknown,
  path: KeyPath,
): Record<string, string> | undefined {
  const table = check.table(value, path);
  if (table === undefined) return undefined;
  const auth: Record<string, string> = Object.create(null);
  for (const [user, password] of Object.entries(table)) {
    if (typeof password === "string") auth[user] = password;
    else check.problem([...path, user], "expected the password as a string");
  }
  return auth;
}

function checkDistinct(check: Checker, listeners: readonly ListenerConfig[]): void {
  const names = new Map<string, ListenerConfig>();
  const addresses = new Map<string, ListenerConfig>();
  for (const l of listeners) {
    const sameName = names.get(l.name);
    if (sameName !== undefined) {
      check.problem([l.kind, l.key, "name"], `"${l.name}" is also the name of ${label(sameName)}`);
    }
    names.set(l.name, l);
    const address = `${l.host}:${l.port}`;
    const sameAddress = addresses.get(address);
    if (l.port !== 0 && sameAddress !== undefined) {
      check.problem(
        [l.kind, l.key, "listen"],
        `${address} is also where ${label(sameAddress)} listens`,
      );
    }
    addresses.set(address, l);
  }
}

function label(l: ListenerConfig): string {
  return `[${l.kind}.${l.key}]`;
}

export function resolvePath(configDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(configDir, path);
}
