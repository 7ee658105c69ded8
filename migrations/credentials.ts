// The old-to-new rule for `login_credentials`: a list of
// `{ username, password }` becomes `auth = { username = password, ... }`.
// Both old forms are handled: the inline array (`login_credentials = [...]`,
// on one line or many) and arrays of tables
// (`[[servers.N.connections.login_credentials]]`), which become one
// `[v4.N.connections.auth]` table with one `user = "password"` line each.
//
// Who uses it: old-to-new.ts. Passwords keep the way they were written
// (quotes, escapes); usernames are quoted only when TOML needs it.

import type { Rewrite } from "./rewrite.ts";
import type { PlacedStatement } from "./toml-paths.ts";
import type { HeaderStatement, KeyValStatement, TomlNode } from "./toml-scan.ts";
import { likeRaw, tomlKey, tomlString } from "./toml-text.ts";

type Credential = { username: string; password: string };
type Server = { connections?: { login_credentials?: Credential[] } };

/** Renames a key segment by the step's rules (`servers` -> `v4`, ...). */
export type Renamer = (absolute: readonly string[], index: number) => string | undefined;

export function convertCredentials(
  rw: Rewrite,
  servers: Record<string, Server>,
  rename: Renamer,
): void {
  for (const [key, server] of Object.entries(servers)) {
    const list = server.connections?.login_credentials;
    if (list === undefined) continue;
    const path = ["servers", key, "connections", "login_credentials"];
    const blocks = rw.placed.filter(
      (p) => p.statement.kind === "header" && p.statement.array && samePath(p.path, path),
    );
    if (blocks.length > 0) convertTables(rw, blocks, list, rename);
    else convertInline(rw, path, list);
    const users = list.length === 1 ? "1 user" : `${list.length} users`;
    const line = blocks[0]?.statement.line ?? findLine(rw, path);
    rw.change(line, path, `rewritten as ${["v4", key].join(".")}.connections.auth (${users})`);
    if (list.length === 0) {
      rw.warn(line, path, "is empty: the new broker refuses every client on this server");
    }
  }
}

function samePath(path: readonly (string | number)[], prefix: readonly string[]): boolean {
  return path.length === prefix.length + 1 && prefix.every((s, i) => path[i] === s);
}

function findLine(rw: Rewrite, path: readonly string[]): number {
  const visit = rw.keys().find((v) => v.path.join("\0") === path.join("\0"));
  return visit?.key.at(-1)?.line ?? 0;
}

/** `login_credentials = [ {...}, ... ]`, as a statement or inside an inline table. */
function convertInline(rw: Rewrite, path: readonly string[], list: readonly Credential[]): void {
  const visit = rw.keys().find((v) => v.path.join("\0") === path.join("\0"));
  if (visit === undefined || visit.value.kind !== "array") return;
  const items = visit.value.items;
  const entries = list.map((c, i) => `${tomlKey(c.username)} = ${passwordText(rw, items[i], c)}`);
  const last = visit.key.at(-1);
  if (last !== undefined) rw.replace(last.start, last.end, likeRaw(last.raw, "auth"));
  rw.replace(
    visit.value.start,
    visit.value.end,
    entries.length ? `{ ${entries.join(", ")} }` : "{}",
  );
  // Comments written inside the array survive as lines above the statement.
  const indent = rw.indentOf(visit.statement);
  for (const comment of commentsIn(visit.value)) {
    rw.insertLineBefore(visit.statement, `${indent}${rw.slice(comment)}`);
  }
}

function commentsIn(node: TomlNode): { start: number; end: number }[] {
  if (node.kind === "scalar") return [];
  const nested = node.kind === "array" ? node.items : node.entries.map((e) => e.value);
  return [...node.comments, ...nested.flatMap(commentsIn)].sort((a, b) => a.start - b.start);
}

/** The password as written when it is a one-line string, else re-quoted. */
function passwordText(rw: Rewrite, item: TomlNode | undefined, credential: Credential): string {
  if (item?.kind === "inline") {
    const entry = item.entries.find((e) => e.key.length === 1 && e.key[0]?.name === "password");
    if (entry !== undefined) return oneLine(rw, entry.value, credential.password);
  }
  return tomlString(credential.password);
}

function oneLine(rw: Rewrite, value: TomlNode, parsed: string): string {
  const raw = rw.slice(value);
  return raw.includes("\n") || raw.startsWith('"""') || raw.startsWith("'''")
    ? tomlString(parsed)
    : raw;
}

/**
 * `[[...login_credentials]]` blocks. The first header becomes `[... .auth]`;
 * entries of blocks that follow it directly stay where they were written;
 * blocks further down (after another table) are moved up to join it.
 */
function convertTables(
  rw: Rewrite,
  blocks: readonly PlacedStatement[],
  list: readonly Credential[],
  rename: Renamer,
): void {
  const moved: string[] = [];
  let anchor: PlacedStatement["statement"] | undefined;
  let contiguous = true;
  for (const [i, block] of blocks.entries()) {
    const header = block.statement as HeaderStatement;
    const index = rw.placed.indexOf(block);
    const section = rw.section(index);
    const credential = list[i];
    if (i > 0) contiguous &&= previousHeader(rw, index) === blocks[i - 1];
    rw.take(header);
    if (i === 0) rw.replace(header.start, header.end, authHeader(header, rename));
    else if (contiguous) rw.removeLines(header);
    else {
      const note = `# rumqttd-migrate: this block's user moved up to the ${authHeader(blocks[0]?.statement as HeaderStatement, rename)} table`;
      rw.replace(header.start, header.end, note);
    }
    const keyvals = section.map((p) => p.statement).filter((s) => s.kind === "keyval");
    const username = keyvals.find((s) => s.key[0]?.name === "username");
    const password = keyvals.find((s) => s.key[0]?.name === "password");
    if (credential === undefined || username === undefined || password === undefined) continue;
    const entry = `${tomlKey(credential.username)} = ${oneLine(rw, password.value, credential.password)}`;
    for (const s of keyvals) rw.take(s);
    rw.removeLines(password);
    if (contiguous) {
      rw.replace(username.start, username.end, entry);
      anchor = lastKeyed(section) ?? header;
    } else {
      rw.removeLines(username);
      moved.push(`${rw.indentOf(username)}${entry}`);
    }
  }
  if (anchor !== undefined) for (const line of moved) rw.insertLineAfter(anchor, line);
}

function previousHeader(rw: Rewrite, index: number): PlacedStatement | undefined {
  for (let i = index - 1; i >= 0; i--) {
    if (rw.placed[i]?.statement.kind === "header") return rw.placed[i];
  }
  return undefined;
}

function lastKeyed(section: readonly PlacedStatement[]): KeyValStatement | undefined {
  const keyvals = section.map((p) => p.statement).filter((s) => s.kind === "keyval");
  return keyvals.at(-1);
}

function authHeader(header: HeaderStatement, rename: Renamer): string {
  const names = header.key.map((k) => k.name);
  const parts = header.key.map((segment, i) => {
    if (i === header.key.length - 1) return likeRaw(segment.raw, "auth");
    const renamed = rename(names, i);
    return renamed === undefined ? segment.raw : likeRaw(segment.raw, renamed);
  });
  return `[${parts.join(".")}]`;
}
