// Small helpers for editing TOML text in place: rendering keys and strings,
// and applying a set of non-overlapping edits to a text.
//
// Who uses it: the migration steps. Pure functions.

import assert from "node:assert/strict";
import type { KeyPath } from "./toml-paths.ts";

/** Replace text[start, end) with `text`; start === end inserts. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** A TOML string literal for `value`, escaping what TOML's basic strings forbid. */
export function tomlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A key as TOML needs it written: bare when it can be, quoted otherwise. */
export function tomlKey(name: string): string {
  return BARE_KEY.test(name) ? name : tomlString(name);
}

/** `name` written the way `raw` was: bare, "double-quoted" or 'single-quoted'. */
export function likeRaw(raw: string, name: string): string {
  if (raw.startsWith("'") && !name.includes("'")) return `'${name}'`;
  if (raw.startsWith('"') || !BARE_KEY.test(name)) return tomlString(name);
  return name;
}

/** A key path for messages: `servers.1.cert.ca_path`, `router.custom_segment."a/b"`. */
export function formatPath(path: KeyPath): string {
  return path
    .map((s) => (typeof s === "number" ? `[${s}]` : tomlKey(s)))
    .join(".")
    .replaceAll(".[", "[");
}

/**
 * Applies edits to `text`. Edits must not overlap. At one offset, inserts
 * go before a replacement that starts there, and keep the order in which
 * they were made.
 */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const ordered = edits
    .map((edit, order) => ({ edit, order }))
    .sort(
      (a, b) => a.edit.start - b.edit.start || width(a.edit) - width(b.edit) || a.order - b.order,
    );
  let out = "";
  let pos = 0;
  for (const { edit } of ordered) {
    assert.ok(edit.start >= pos && edit.end >= edit.start, "migration edits overlap");
    out += text.slice(pos, edit.start) + edit.text;
    pos = edit.end;
  }
  return out + text.slice(pos);
}

function width(edit: Edit): number {
  return edit.end === edit.start ? 0 : 1;
}

/** The spaces and tabs at the start of the line holding `offset`. */
export function indentAt(text: string, offset: number): string {
  const indent = /[ \t]*/y;
  indent.lastIndex = text.lastIndexOf("\n", offset - 1) + 1;
  return indent.exec(text)?.[0] ?? "";
}
