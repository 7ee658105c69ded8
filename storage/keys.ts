// Sortable key encoding for the LevelDB index: a key is a keyspace name and a
// tuple of strings and packet-id-sized integers, encoded so that byte order
// equals tuple order. Pure functions only; no I/O.
//
// Layout: `<keyspace> 0x00 <part> 0x00 <part> ...`. Strings escape 0x00 as
// 0x01 0x01 and 0x01 as 0x01 0x02, so the separator 0x00 sorts before every
// character of any part and a shorter tuple sorts before its extensions.
// Integers are 10 zero-padded decimal digits (they range over 0..2^32-1).
//
// Invariants:
// - decodeKey(encodeKey(s, parts)) deep-equals { keyspace: s, parts }.
// - compare(encodeKey(s, a), encodeKey(s, b)) has the sign of the tuple order of a and b.

import assert from "node:assert/strict";

export type KeyPart = string | number;

const SEPARATOR = "\u0000";
const INT_WIDTH = 10;
const INT_TAG = "#";
const STRING_TAG = "$";

/** Keyspace names already checked (there are a handful; keys are built for every write). */
const checkedKeyspaces = new Set<string>();

export function encodeKey(keyspace: string, parts: readonly KeyPart[]): string {
  if (!checkedKeyspaces.has(keyspace)) {
    assert.ok(/^[a-z_]+$/.test(keyspace), "keyspace names are lowercase words");
    checkedKeyspaces.add(keyspace);
  }
  let key = keyspace;
  for (const part of parts) key += SEPARATOR + encodePart(part);
  return key;
}

/** The first key after every key that starts with `encodeKey(keyspace, prefix)` and a separator. */
export function prefixRange(
  keyspace: string,
  prefix: readonly KeyPart[],
): { gt: string; lt: string } {
  const base = encodeKey(keyspace, prefix);
  return { gt: `${base}${SEPARATOR}`, lt: `${base}\u0001` };
}

export function decodeKey(key: string): { keyspace: string; parts: KeyPart[] } {
  const [keyspace, ...encoded] = key.split(SEPARATOR);
  assert.ok(keyspace !== undefined);
  return { keyspace, parts: encoded.map(decodePart) };
}

function encodePart(part: KeyPart): string {
  if (typeof part === "number") {
    assert.ok(Number.isInteger(part) && part >= 0 && part < 2 ** 32, "key integers are u32");
    return INT_TAG + String(part).padStart(INT_WIDTH, "0");
  }
  // Most parts (client ids, filters) hold neither character: nothing to escape.
  if (!part.includes("\u0000") && !part.includes("\u0001")) return STRING_TAG + part;
  return (
    STRING_TAG + part.replaceAll("\u0001", "\u0001\u0002").replaceAll("\u0000", "\u0001\u0001")
  );
}

function decodePart(encoded: string): KeyPart {
  const tag = encoded[0];
  const body = encoded.slice(1);
  if (tag === INT_TAG) return Number(body);
  assert.ok(tag === STRING_TAG, "a key part starts with its type tag");
  let out = "";
  for (let i = 0; i < body.length; i += 1) {
    const char = body[i] as string;
    if (char !== "\u0001") {
      out += char;
      continue;
    }
    i += 1;
    out += body[i] === "\u0001" ? "\u0000" : "\u0001";
  }
  return out;
}
