// Turns the text of a new-syntax config file into a validated Config: parse
// (smol-toml), refuse old-syntax files with a pointer to rumqttd-migrate,
// check every table, apply defaults, resolve paths against the file's folder.
//
// Who uses it: loadConfig, the rumqttd-migrate CLI (to check its own output)
// and tests. Pure apart from path resolution: it reads no files. Every
// problem is collected; one ConfigError carries them all.

import { dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { detectSyntax } from "../../migrations/index.ts";
import { ConfigError } from "../errors.ts";
import { ANY_COUNT, Checker, type Table } from "./checker.ts";
import { readBridge, readCluster, readConsole, readMetrics, readPrometheus } from "./extras.ts";
import { LineLocator } from "./line-locator.ts";
import { readListeners } from "./listeners.ts";
import { readAuthorization, readRouter, readStorage } from "./sections.ts";
import type { Config } from "./types.ts";

const TOP_LEVEL_KEYS = [
  "id",
  "router",
  "storage",
  "v4",
  "v5",
  "ws",
  "prometheus",
  "console",
  "bridge",
  "authorization",
  "metrics",
  "cluster",
] as const;

/**
 * Validates `text` as the new config syntax. `file` names the file in
 * messages and anchors relative paths; it is not read.
 * Throws ConfigError: ERR_CONFIG_OLD_SYNTAX or ERR_CONFIG_INVALID.
 */
export function parseConfig(text: string, file: string): Config {
  const root = parseToml(text, file);
  if (detectSyntax(text) === "old") throw oldSyntaxError(file);
  const check = new Checker(file, new LineLocator(text));
  const config = readRoot(check, root, resolve(file));
  if (check.problems.length > 0) throw new ConfigError("ERR_CONFIG_INVALID", check.problems);
  return config;
}

/** The one line the broker prints for an old-syntax file. */
export function oldSyntaxError(file: string): ConfigError {
  return new ConfigError("ERR_CONFIG_OLD_SYNTAX", [
    `${file}: this file is in rumqttd's old config syntax; convert it with: rumqttd-migrate ${file}`,
  ]);
}

function parseToml(text: string, file: string): Table {
  try {
    return parse(text, { integersAsBigInt: true });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    throw new ConfigError(
      "ERR_CONFIG_INVALID",
      [`${file}:${err.line}: not valid TOML: ${reason} (column ${err.column})`],
      { cause: err },
    );
  }
}

function readRoot(check: Checker, root: Table, file: string): Config {
  const configDir = dirname(file);
  check.knownKeys(
    root,
    [],
    TOP_LEVEL_KEYS,
    "rumqttd's old syntax: convert it with rumqttd-migrate",
  );
  const routerTable = check.table(root.router, ["router"]);
  if (root.router === undefined) check.problem([], "missing the [router] table");
  const topId = check.optionalInt(root, "id", [], ANY_COUNT);
  const routerId = typeof routerTable?.id === "bigint" ? Number(routerTable.id) : undefined;
  const id = topId ?? routerId ?? 0;
  const config: Config = {
    file,
    id,
    router: readRouter(check, routerTable ?? {}, id),
    storage: readStorage(check, check.table(root.storage, ["storage"]) ?? {}, configDir),
    listeners: readListeners(check, root, configDir),
    warnings: [],
  };
  if (config.listeners.length === 0) {
    check.problem(
      [],
      'nothing to listen on: add a server table such as [v4.1] with listen = "0.0.0.0:1883"',
    );
  }
  const present = (key: string) => {
    const table = check.table(root[key], [key]);
    return table !== undefined && Object.keys(table).length > 0 ? table : undefined;
  };
  const prometheus = present("prometheus");
  const consoleTable = present("console");
  const authorization = present("authorization");
  if (prometheus) {
    const value = readPrometheus(check, prometheus);
    if (value) config.prometheus = value;
  }
  if (consoleTable) {
    const value = readConsole(check, consoleTable);
    if (value) config.console = value;
  }
  if (authorization) config.authorization = readAuthorization(check, authorization);
  const bridge = present("bridge");
  if (bridge) readBridge(check, bridge);
  const metrics = present("metrics");
  if (metrics) readMetrics(check, metrics);
  const cluster = present("cluster");
  if (cluster) readCluster(check, cluster);
  config.warnings = check.warnings;
  return config;
}
