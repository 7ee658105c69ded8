// The index's key encoding: byte order of encoded keys equals tuple order,
// and decoding gives back the tuple, for any strings (control characters
// and astral code points included) and packet-id-sized integers.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeKey, encodeKey, type KeyPart } from "../../storage/index.ts";

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

const part: fc.Arbitrary<KeyPart> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom("", "\u0000", "\u0001", "\u0002", "a\u0000b", "a\u0001", "é", "😀"),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);
const tuple = fc.array(part, { maxLength: 4 });

function compareParts(a: KeyPart, b: KeyPart): number {
  if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
  if (typeof a === "number") return a - (b as number);
  // Tuple order for strings is code point order, which is UTF-8 byte order.
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b as string, "utf8"));
}

function compareTuples(a: KeyPart[], b: KeyPart[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    const c = compareParts(a[i] as KeyPart, b[i] as KeyPart);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

test("encoded keys sort in LevelDB's byte order exactly as their tuples do", () => {
  fc.assert(
    fc.property(tuple, tuple, (a, b) => {
      const ka = Buffer.from(encodeKey("sessions", a), "utf8");
      const kb = Buffer.from(encodeKey("sessions", b), "utf8");
      assert.equal(Math.sign(Buffer.compare(ka, kb)), Math.sign(compareTuples(a, b)));
    }),
    { seed, numRuns: 2000 },
  );
});

test("a key decodes to the keyspace and tuple it was made from", () => {
  fc.assert(
    fc.property(tuple, (parts) => {
      assert.deepEqual(decodeKey(encodeKey("cursors", parts)), { keyspace: "cursors", parts });
    }),
    { seed, numRuns: 2000 },
  );
});
