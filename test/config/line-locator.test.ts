// The line locator puts line numbers on key paths for config error messages,
// across every way TOML can write a key.

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatKeyPath, LineLocator } from "../../src/config/line-locator.ts";

const text = [
  "id = 0", // 1
  "# a comment", // 2
  "[router]", // 3
  "max_connections = 10 # trailing", // 4
  '  [router.custom_segment."a/+/b"]', // 5
  "  max_segment_size = 1", // 6
  "[v4.1]", // 7
  'listen = "0.0.0.0:1883"', // 8
  'connections.auth = { u1 = \'p\', "u 2" = "q" }', // 9
  "tls = {", // 10
  '  certpath = "a",', // 11
  '  keypath = "b" }', // 12
  'v5.1.listen = "x"', // 13
  "[[authorization.rules]]", // 14
  "allow = true", // 15
  "[[authorization.rules]]", // 16
  "allow = false", // 17
  'description = """', // 18
  "two", // 19
  'lines"""', // 20
  "after = [", // 21
  "  1, # one", // 22
  "  { x = 2 },", // 23
  "]", // 24
].join("\n");

test("a table header, a key in it and a nested quoted table get their own lines", () => {
  const at = new LineLocator(text);
  assert.equal(at.lineOf(["id"]), 1);
  assert.equal(at.lineOf(["router"]), 3);
  assert.equal(at.lineOf(["router", "max_connections"]), 4);
  assert.equal(at.lineOf(["router", "custom_segment", "a/+/b"]), 5);
  assert.equal(at.lineOf(["router", "custom_segment", "a/+/b", "max_segment_size"]), 6);
});

test("dotted keys, quoted keys and inline tables (one line or several) are located", () => {
  const at = new LineLocator(text);
  assert.equal(at.lineOf(["v4", "1", "connections", "auth", "u1"]), 9);
  assert.equal(at.lineOf(["v4", "1", "connections", "auth", "u 2"]), 9);
  assert.equal(at.lineOf(["v4", "1", "tls"]), 10);
  assert.equal(at.lineOf(["v4", "1", "tls", "keypath"]), 12);
  assert.equal(at.lineOf(["v4", "1", "v5", "1", "listen"]), 13);
});

test("arrays of tables are numbered in order and multi-line values keep lines right", () => {
  const at = new LineLocator(text);
  assert.equal(at.lineOf(["authorization", "rules", 0, "allow"]), 15);
  assert.equal(at.lineOf(["authorization", "rules", 1, "allow"]), 17);
  assert.equal(at.lineOf(["authorization", "rules", 1, "after"]), 21);
  assert.equal(at.lineOf(["authorization", "rules", 1, "after", 1, "x"]), 23);
});

test("a missing key is reported at its nearest written ancestor", () => {
  const at = new LineLocator(text);
  assert.equal(at.lineOf(["v4", "1", "connections", "max_payload_size"]), 9);
  assert.equal(at.lineOf(["router", "nope"]), 3);
  assert.equal(at.lineOf(["storage", "dir"]), undefined);
});

test("text that is not TOML gives no lines instead of throwing", () => {
  const at = new LineLocator('a = "unterminated\n');
  assert.equal(at.lineOf(["a"]), undefined);
});

test("CRLF line endings count lines the same way", () => {
  const at = new LineLocator("[router]\r\nid = 0\r\n\r\n[v4.1]\r\nlisten = 'x'\r\n");
  assert.equal(at.lineOf(["v4", "1", "listen"]), 5);
});

test("key paths print dotted, quoting keys that are not bare and indexing arrays", () => {
  assert.equal(formatKeyPath(["v4", "1", "connections"]), "v4.1.connections");
  assert.equal(formatKeyPath(["router", "custom_segment", "a/+"]), 'router.custom_segment."a/+"');
  assert.equal(
    formatKeyPath(["authorization", "rules", 2, "filter"]),
    "authorization.rules[2].filter",
  );
});
