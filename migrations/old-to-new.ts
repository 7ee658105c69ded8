// The step from rumqttd's old config syntax to the new one (CONFIG.md, "From
// old to new"). It edits the text, never re-serializes it: comments, blank
// lines, table order and formatting survive; only what must change changes.
//
// Who uses it: migrations/index.ts, as the "old" -> "new" step. Pure: text in,
// text and notes out. Input that is not valid old syntax throws
// MigrationError listing every problem with its line.

import { parse, TomlError } from "smol-toml";
import { convertCredentials } from "./credentials.ts";
import { checkOldSyntax, isTable } from "./old-schema.ts";
import { commentOutMesh, moveDataDir } from "./relocate.ts";
import { Rewrite } from "./rewrite.ts";
import { indexLines, type KeyPath, placeStatements } from "./toml-paths.ts";
import { type Statement, scanToml, TomlScanError } from "./toml-scan.ts";
import { likeRaw, tomlString } from "./toml-text.ts";
import { MigrationError, type MigrationResult } from "./types.ts";

const TLS_KEYS: Record<string, string> = {
  cert_path: "certpath",
  key_path: "keypath",
  ca_path: "capath",
  pkcs12_path: "pkcs12path",
  pkcs12_pass: "pkcs12pass",
};

/** The new name of segment `index` of an absolute old key path, if it changes. */
export function renameSegment(absolute: readonly string[], index: number): string | undefined {
  const name = absolute[index];
  if (index === 0 && name === "servers") return "v4";
  if (absolute[0] !== "servers") return undefined;
  if (index === 2 && name === "cert") return "tls";
  if (index === 3 && absolute[2] === "cert" && name !== undefined) return TLS_KEYS[name];
  return undefined;
}

/** Parses and scans `text`; throws MigrationError (with the line) when it is not TOML. */
export function readToml(text: string): { root: Record<string, unknown>; statements: Statement[] } {
  return { root: parseOld(text), statements: scanOld(text) };
}

export function oldToNew(text: string): MigrationResult {
  const { root, statements } = readToml(text);
  const lines = indexLines(statements);
  const lineOf = (path: KeyPath) => {
    for (let n = path.length; n > 0; n--) {
      const line = lines.get(JSON.stringify(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return 0;
  };
  const problems = checkOldSyntax(root, lineOf);
  if (problems.length > 0) throw new MigrationError(problems);
  const servers = (isTable(root.servers) ? root.servers : {}) as Record<string, object>;
  const rw = new Rewrite(text, placeStatements(statements));
  commentOutMesh(rw);
  convertCredentials(rw, servers, renameSegment);
  moveDataDir(rw);
  renameKeys(rw);
  addServerNames(rw, Object.keys(servers));
  warnAboutMeaning(rw, root, lineOf);
  return rw.result();
}

function parseOld(text: string): Record<string, unknown> {
  try {
    return parse(text, { integersAsBigInt: true });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
    const message = `not valid TOML: ${reason} (column ${err.column})`;
    throw new MigrationError([{ line: err.line, key: "", message }]);
  }
}

function scanOld(text: string): Statement[] {
  try {
    return scanToml(text);
  } catch (err) {
    if (!(err instanceof TomlScanError)) throw err;
    // smol-toml read it but the scanner did not: report it rather than guess.
    const message = `cannot edit this line in place: ${err.message}`;
    throw new MigrationError([{ line: err.line, key: "", message }]);
  }
}

/** servers -> v4, cert -> tls, cert_path -> certpath, ...: in headers, keys and inline tables. */
function renameKeys(rw: Rewrite): void {
  for (const { statement, path } of rw.placed) {
    if (statement.kind !== "header" || rw.isTaken(statement)) continue;
    const names = path.map(String);
    if (renameSegments(rw, statement.key, names, 0)) {
      const renamed = names.map((n, i) => renameSegment(names, i) ?? n);
      rw.change(statement.line, names, `renamed to [${renamed.join(".")}]`);
    }
  }
  for (const visit of rw.keys()) {
    const first = visit.path.length - visit.key.length;
    // The credentials rule reports its own change for login_credentials.
    const quiet = visit.path[3] === "login_credentials";
    if (renameSegments(rw, visit.key, visit.path, first) && !quiet) {
      const renamed = visit.path.map((n, i) => renameSegment(visit.path, i) ?? n);
      rw.change(visit.key[0]?.line ?? 0, visit.path, `renamed to ${renamed.join(".")}`);
    }
  }
}

function renameSegments(
  rw: Rewrite,
  segments: readonly { raw: string; start: number; end: number }[],
  absolute: readonly string[],
  first: number,
): boolean {
  let changed = false;
  for (const [i, segment] of segments.entries()) {
    const renamed = renameSegment(absolute, first + i);
    if (renamed === undefined) continue;
    rw.replace(segment.start, segment.end, likeRaw(segment.raw, renamed));
    changed = true;
  }
  return changed;
}

/** `name = "v4-N"` for each server, where the server's own keys are written. */
function addServerNames(rw: Rewrite, keys: readonly string[]): void {
  for (const key of keys) {
    const line = `name = ${tomlString(`v4-${key}`)}`;
    const target = ["servers", key];
    const at = (path: KeyPath, n: number) =>
      path.length === n && target.every((s, i) => path[i] === s);
    const under = (path: KeyPath) => path.length > 2 && target.every((s, i) => path[i] === s);
    const header = rw.placed.findIndex((p) => p.statement.kind === "header" && at(p.path, 2));
    const inline = rw.keys().find((v) => v.value.kind === "inline" && at(v.path, 2));
    const dotted = rw.placed.find(
      (p) => p.statement.kind === "keyval" && p.context.length < 2 && under(p.path),
    );
    const deeper = rw.placed.find((p) => p.statement.kind === "header" && under(p.path));
    const placed = rw.placed[header];
    let atLine: number;
    if (placed !== undefined) {
      atLine = placed.statement.line;
      const firstKey = rw.section(header).find((p) => p.statement.kind === "keyval");
      const indent = rw.indentOf(firstKey?.statement ?? placed.statement);
      rw.insertLineAfter(placed.statement, `${indent}${line}`);
    } else if (inline !== undefined) {
      atLine = inline.key[0]?.line ?? inline.statement.line;
      const empty = inline.value.kind === "inline" && inline.value.entries.length === 0;
      rw.insert(inline.value.start + 1, empty ? ` ${line} ` : ` ${line},`);
    } else if (dotted?.statement.kind === "keyval") {
      atLine = dotted.statement.line;
      const prefix = dotted.statement.key.slice(0, 2 - dotted.context.length);
      const written = prefix.map((s, i) => {
        const renamed = renameSegment(target, dotted.context.length + i);
        return renamed === undefined ? s.raw : likeRaw(s.raw, renamed);
      });
      rw.insertLineBefore(
        dotted.statement,
        `${rw.indentOf(dotted.statement)}${written.join(".")}.${line}`,
      );
    } else if (deeper?.statement.kind === "header") {
      atLine = deeper.statement.line;
      const raw = deeper.statement.key[1]?.raw ?? key;
      const indent = rw.indentOf(deeper.statement);
      rw.insertLineBefore(deeper.statement, `${indent}[v4.${raw}]\n${indent}${line}\n`);
    } else {
      continue;
    }
    rw.change(atLine, target, `added ${line}`);
  }
}

const PATH_KEYS = ["cert_path", "key_path", "ca_path", "pkcs12_path"];

/** Warnings where the new broker would read the same value differently. */
function warnAboutMeaning(
  rw: Rewrite,
  root: Record<string, unknown>,
  lineOf: (path: KeyPath) => number,
): void {
  const router = isTable(root.router) ? root.router : {};
  if (typeof router.dir === "string") {
    const path = ["router", "dir"];
    if (router.dir === "/tmp" || router.dir.startsWith("/tmp/")) {
      rw.warn(
        lineOf(path),
        path,
        `"${router.dir}" is under /tmp, which does not survive a reboot: stored messages and sessions would be lost; choose a lasting folder such as /var/lib/rumqttd`,
      );
    }
    warnIfRelative(rw, path, router.dir, lineOf);
  }
  const servers = isTable(root.servers) ? root.servers : {};
  for (const [key, server] of Object.entries(servers)) {
    const cert = isTable(server) && isTable(server.cert) ? server.cert : {};
    for (const name of PATH_KEYS) {
      const value = cert[name];
      if (typeof value === "string")
        warnIfRelative(rw, ["servers", key, "cert", name], value, lineOf);
    }
    if (cert.ca_path !== undefined) {
      const path = ["servers", key, "cert", "ca_path"];
      rw.warn(
        lineOf(path),
        path,
        "capath means client certificates are required: clients without a certificate signed by this CA are refused",
      );
    }
  }
}

function warnIfRelative(
  rw: Rewrite,
  path: readonly string[],
  value: string,
  lineOf: (path: KeyPath) => number,
): void {
  if (value.startsWith("/") || /^[A-Za-z]:[\\/]/.test(value)) return;
  rw.warn(
    lineOf(path),
    path,
    `"${value}" is relative: the new broker reads it from the config file's folder, the old one from its working directory`,
  );
}
