// The TOML scanner: statements cover the text in order, whole lines each,
// and every comment is found, whatever the formatting.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { scanToml, TomlScanError } from "../../migrations/index.ts";

const dir = new URL("../fixtures/migrate/", import.meta.url).pathname;

test("statements cover every fixture's text in order, each a run of whole lines", () => {
  for (const name of readdirSync(dir)) {
    const text = readFileSync(join(dir, name), "utf8");
    let pos = 0;
    for (const statement of scanToml(text)) {
      assert.equal(statement.lineStart, pos, name);
      assert.ok(statement.lineEnd > pos, name);
      pos = statement.lineEnd;
    }
    assert.equal(pos, text.length, name);
  }
});

test("trailing comments, comments inside arrays and hashes inside strings are told apart", () => {
  const statements = scanToml("a = \"x # not a comment\" # real\nb = [\n  1, # one\n  '#',\n]\n");
  const [a, b] = statements;
  assert.ok(a?.kind === "keyval" && b?.kind === "keyval");
  assert.equal(a.comment?.start, 24);
  assert.equal(b.value.kind === "array" ? b.value.comments.length : -1, 1);
});

test("multi-line strings and dates with a space are single values", () => {
  const [s, d, e] = scanToml('s = """\nline # no\n"""\nd = 1979-05-27 07:32:00Z\ne = 1\n');
  assert.equal(s?.kind === "keyval" && s.value.end, 21);
  assert.equal(d?.line, 4);
  assert.equal(e?.line, 5);
});

test("text that is not TOML throws TomlScanError with the line", () => {
  assert.throws(
    () => scanToml('ok = 1\nbad = "unterminated\n'),
    (err: unknown) => err instanceof TomlScanError && err.line === 2,
  );
});
