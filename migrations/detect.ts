// Which config syntax a TOML text is written in, from its top-level keys.
//
// Who uses it: `migrate` (to pick the steps to run), src/config (to refuse an
// old-syntax file with a message that names rumqttd-migrate) and the
// rumqttd-migrate CLI. It reads the text with the scanner, so it also answers
// for text whose values smol-toml would refuse.

import { type KeyPath, placeStatements } from "./toml-paths.ts";
import { type Statement, scanToml } from "./toml-scan.ts";

/** "old": rumqttd's old syntax; "new": the syntax the broker runs; "unknown": neither (or not TOML). */
export type Syntax = "old" | "new" | "unknown";

const NEW_TABLES = new Set(["v4", "v5", "ws"]);

/**
 * A file is new-syntax when it has a `v4`, `v5` or `ws` table; otherwise it is
 * old-syntax when it has `servers` or `replicator`, or `cluster` with
 * sub-tables (`[cluster.0]`: the new syntax's `[cluster]` holds plain keys).
 */
export function detectSyntax(text: string): Syntax {
  let placed: ReturnType<typeof placeStatements>;
  try {
    placed = placeStatements(scanToml(text));
  } catch {
    return "unknown";
  }
  let old = false;
  for (const { statement, path } of placed) {
    const top = path[0];
    if (typeof top !== "string") continue;
    if (NEW_TABLES.has(top)) return "new";
    if (top === "servers" || top === "replicator") old = true;
    if (top === "cluster" && definesClusterMember(statement, path)) old = true;
  }
  return old ? "old" : "unknown";
}

function definesClusterMember(statement: Statement, path: KeyPath): boolean {
  if (statement.kind === "header") return path.length >= 2;
  if (statement.kind !== "keyval") return false;
  // `cluster.0.address = ...`, `[cluster]` + `0 = { address = ... }`, or
  // `cluster = { 0 = { address = ... } }`.
  if (path.length >= 3) return true;
  if (statement.value.kind !== "inline") return false;
  if (path.length === 2) return true;
  return statement.value.entries.some((e) => e.key.length >= 2 || e.value.kind === "inline");
}
