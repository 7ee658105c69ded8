// Reads the tables this broker accepts from rumqttd files but does not act on
// yet: `[prometheus]`, `[console]`, `[bridge]`, `[metrics.*]`, `[cluster]`.
// Each is checked as strictly as the others (unknown keys and wrong types are
// errors) and, when present, gets one warning saying it has no effect.
//
// Who uses it: parse-config.ts. When the console or Prometheus endpoint lands,
// drop its entry from WITHOUT_EFFECT; the parsed values are already returned.

import { ANY_COUNT, type Checker, type Table } from "./checker.ts";
import type { KeyPath } from "./line-locator.ts";
import { type ListenAddress, parseListen } from "./listen.ts";
import { readConnections } from "./listeners.ts";
import type { ConsoleConfig, PrometheusConfig } from "./types.ts";

/** What a warning says for each table that is accepted but not built yet. */
const WITHOUT_EFFECT = {
  prometheus: "accepted, but this broker does not serve Prometheus metrics yet",
  console: "accepted, but this broker has no HTTP console yet",
  bridge: "accepted, but this broker has no bridge yet: nothing is forwarded",
  metrics: "accepted, but this broker does not push metrics yet",
  cluster: "accepted, but this broker does not cluster: it runs alone",
} as const;

export function readPrometheus(check: Checker, table: Table): PrometheusConfig | undefined {
  const path = ["prometheus"];
  check.knownKeys(table, path, ["listen", "port", "interval"]);
  check.warn(path, WITHOUT_EFFECT.prometheus);
  let address: ListenAddress | undefined;
  if (table.listen !== undefined && table.port !== undefined) {
    check.problem(path, "give either listen or the older port, not both");
  } else if (table.port !== undefined) {
    const port = check.optionalInt(table, "port", path, { min: 0, max: 65_535 });
    if (port !== undefined) address = { host: "127.0.0.1", port };
  } else {
    address = readListen(check, table, path);
  }
  const intervalSec = check.int(table, "interval", path, 1, { min: 1, max: 86_400 });
  return address === undefined ? undefined : { ...address, intervalSec };
}

export function readConsole(check: Checker, table: Table): ConsoleConfig | undefined {
  const path = ["console"];
  check.knownKeys(table, path, ["listen"]);
  check.warn(path, WITHOUT_EFFECT.console);
  return readListen(check, table, path);
}

/** A required `listen` key of `table`, parsed. */
function readListen(check: Checker, table: Table, path: KeyPath): ListenAddress | undefined {
  if (table.listen === undefined) {
    check.problem(path, 'missing key `listen` (for example listen = "127.0.0.1:3030")');
    return undefined;
  }
  const listen = check.optionalString(table, "listen", path);
  if (listen === undefined) return undefined;
  const address = parseListen(listen);
  if (typeof address === "string") {
    check.problem([...path, "listen"], address);
    return undefined;
  }
  return address;
}

const BRIDGE_KEYS = [
  "name",
  "addr",
  "qos",
  "sub_path",
  "reconnection_delay",
  "ping_delay",
  "timeout_delay",
  "connections",
  "transport",
] as const;

export function readBridge(check: Checker, table: Table): void {
  const path = ["bridge"];
  check.knownKeys(table, path, BRIDGE_KEYS);
  check.warn(path, WITHOUT_EFFECT.bridge);
  for (const key of ["name", "addr", "sub_path"]) check.optionalString(table, key, path);
  check.optionalInt(table, "qos", path, { min: 0, max: 2 });
  for (const key of ["reconnection_delay", "ping_delay", "timeout_delay"]) {
    check.optionalInt(table, key, path, ANY_COUNT);
  }
  const connections = check.table(table.connections, [...path, "connections"]);
  if (connections !== undefined)
    readConnectionsQuietly(check, connections, [...path, "connections"]);
  readBridgeTransport(check, table.transport, [...path, "transport"]);
}

/**
 * The bridge's connections take a server's connection keys; their own
 * no-effect warnings would repeat the bridge's one, so they are dropped.
 */
function readConnectionsQuietly(check: Checker, table: Table, path: KeyPath): void {
  const warnings = check.warningCount;
  readConnections(check, table, path);
  check.dropWarningsAfter(warnings);
}

function readBridgeTransport(check: Checker, value: unknown, path: KeyPath): void {
  const transport = check.table(value, path);
  if (transport === undefined) return;
  check.knownKeys(transport, path, ["tls"]);
  const tls = check.table(transport.tls, [...path, "tls"]);
  if (tls === undefined) return;
  check.knownKeys(tls, [...path, "tls"], ["ca", "client_auth"]);
  check.optionalString(tls, "ca", [...path, "tls"]);
  const auth = check.table(tls.client_auth, [...path, "tls", "client_auth"]);
  if (auth === undefined) return;
  check.knownKeys(auth, [...path, "tls", "client_auth"], ["certs", "key"]);
  check.optionalString(auth, "certs", [...path, "tls", "client_auth"]);
  check.optionalString(auth, "key", [...path, "tls", "client_auth"]);
}

/** `[metrics.alerts]`, `[metrics.meters]`: one warning each. */
export function readMetrics(check: Checker, table: Table): void {
  check.knownKeys(table, ["metrics"], ["alerts", "meters"]);
  for (const kind of ["alerts", "meters"]) {
    const path = ["metrics", kind];
    const metric = check.table(table[kind], path);
    if (metric === undefined) continue;
    check.knownKeys(metric, path, ["push_interval"]);
    check.optionalInt(metric, "push_interval", path, ANY_COUNT);
    check.warn(path, WITHOUT_EFFECT.metrics);
  }
}

export function readCluster(check: Checker, table: Table): void {
  const path = ["cluster"];
  check.knownKeys(
    table,
    path,
    ["node_id", "listen", "seniors"],
    "the old syntax's [cluster.N] tables have no equivalent",
  );
  check.warn(path, WITHOUT_EFFECT.cluster);
  check.optionalInt(table, "node_id", path, ANY_COUNT);
  check.optionalString(table, "listen", path);
  if (table.seniors !== undefined && !Array.isArray(table.seniors)) {
    check.problem([...path, "seniors"], "expected a list");
  }
}
