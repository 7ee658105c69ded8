// What a valid file in rumqttd's old config syntax may hold (CONFIG.md, "Old
// syntax"), and the check of a parsed file against it. A file that fails
// here is refused before anything is rewritten, with every problem listed.
//
// Who uses it: the old-to-new step. Pure; works on smol-toml's parsed value
// (integers as bigint) and the scanner's line index.

import { closestKey } from "./did-you-mean.ts";
import type { KeyPath } from "./toml-paths.ts";
import { formatPath } from "./toml-text.ts";
import type { MigrationNote } from "./types.ts";

type Rule =
  | "int"
  | "string"
  | "any-table"
  | { keys: Record<string, Rule> }
  | { each: Rule }
  | "credentials";

const CERT: Rule = {
  keys: {
    cert_path: "string",
    key_path: "string",
    ca_path: "string",
    pkcs12_path: "string",
    pkcs12_pass: "string",
  },
};

const CONNECTIONS: Rule = {
  keys: {
    connection_timeout_ms: "int",
    max_client_id_len: "int",
    throttle_delay_ms: "int",
    max_payload_size: "int",
    max_inflight_count: "int",
    max_inflight_size: "int",
    login_credentials: "credentials",
  },
};

const SERVER: Rule = {
  keys: { listen: "string", next_connection_delay_ms: "int", cert: CERT, connections: CONNECTIONS },
};

export const OLD_SYNTAX: Rule = {
  keys: {
    id: "int",
    router: {
      keys: {
        id: "int",
        dir: "string",
        max_segment_size: "int",
        max_segment_count: "int",
        max_connections: "int",
      },
    },
    servers: { each: SERVER },
    // Both become comments, whatever they hold.
    cluster: "any-table",
    replicator: "any-table",
    console: { keys: { listen: "string" } },
  },
};

type Table = Record<string, unknown>;

/** Every problem of `root` against the old syntax; `lineOf` places them. */
export function checkOldSyntax(root: Table, lineOf: (path: KeyPath) => number): MigrationNote[] {
  const problems: MigrationNote[] = [];
  const report = (path: KeyPath, message: string) =>
    problems.push({ line: lineOf(path), key: formatPath(path), message });
  checkValue(root, OLD_SYNTAX, [], report);
  const servers = root.servers;
  if (!isTable(servers) || Object.keys(servers).length === 0) {
    report([], "no [servers.N] table: the new broker needs at least one server to listen on");
  } else {
    const listening = new Map<string, string>();
    for (const [key, server] of Object.entries(servers)) {
      if (!isTable(server)) continue;
      if (server.listen === undefined) {
        report(["servers", key], 'missing key `listen` (for example listen = "0.0.0.0:1883")');
      }
      const other = typeof server.listen === "string" ? listening.get(server.listen) : undefined;
      if (other !== undefined) {
        report(
          ["servers", key, "listen"],
          `same address as servers.${other}: two servers cannot share one`,
        );
      }
      if (typeof server.listen === "string") listening.set(server.listen, key);
    }
  }
  return problems.sort((a, b) => a.line - b.line);
}

function checkValue(
  value: unknown,
  rule: Rule,
  path: KeyPath,
  report: (path: KeyPath, message: string) => void,
): void {
  if (rule === "int") {
    if (typeof value !== "bigint") report(path, `expected an integer, found ${describe(value)}`);
  } else if (rule === "string") {
    if (typeof value !== "string") report(path, `expected a string, found ${describe(value)}`);
  } else if (rule === "credentials") {
    checkCredentials(value, path, report);
  } else if (!isTable(value)) {
    report(path, `expected a table, found ${describe(value)}`);
  } else if (rule === "any-table") {
    return;
  } else if ("each" in rule) {
    for (const [key, item] of Object.entries(value))
      checkValue(item, rule.each, [...path, key], report);
  } else {
    for (const [key, item] of Object.entries(value)) {
      const itemRule = rule.keys[key];
      if (itemRule === undefined)
        report([...path, key], unknownKey(path, key, Object.keys(rule.keys)));
      else checkValue(item, itemRule, [...path, key], report);
    }
  }
}

function unknownKey(path: KeyPath, key: string, known: readonly string[]): string {
  const newSyntax = [
    "v4",
    "v5",
    "ws",
    "storage",
    "prometheus",
    "bridge",
    "metrics",
    "authorization",
  ];
  if (path.length === 0 && newSyntax.includes(key)) {
    return "unknown key in the old syntax (it belongs to the new syntax: is this file half-converted?)";
  }
  const hint = closestKey(key, known);
  return `unknown key in the old syntax${hint === undefined ? "" : ` (did you mean \`${hint}\`?)`}`;
}

/** `login_credentials`: a list of `{ username, password }`, usernames distinct. */
function checkCredentials(
  value: unknown,
  path: KeyPath,
  report: (path: KeyPath, message: string) => void,
): void {
  if (!Array.isArray(value)) {
    report(path, 'expected a list such as [{ username = "u", password = "p" }]');
    return;
  }
  const seen = new Set<string>();
  for (const [i, item] of value.entries()) {
    const at = [...path, i];
    if (!isTable(item)) {
      report(at, 'expected { username = "u", password = "p" }');
      continue;
    }
    for (const key of Object.keys(item)) {
      if (key !== "username" && key !== "password")
        report([...at, key], "unknown key in the old syntax");
    }
    for (const key of ["username", "password"]) {
      if (typeof item[key] !== "string") report(at, `expected \`${key}\` as a string`);
    }
    const username = item.username;
    if (typeof username === "string") {
      if (seen.has(username)) report([...at, "username"], `"${username}" is listed twice`);
      seen.add(username);
    }
  }
}

export function isTable(value: unknown): value is Table {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return `the integer ${value}`;
  if (typeof value === "number") return `the float ${value}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "boolean") return `${value}`;
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  return "a table";
}
