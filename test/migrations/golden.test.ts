// Golden files: each test/fixtures/migrate/NAME.old.toml migrates to exactly
// NAME.new.toml, which loads in the broker and migrates to itself. Together
// they cover every old key, TLS by PEM and PKCS#12, several servers, both
// credential forms, [cluster] and [replicator], comments everywhere and odd
// formatting (dotted keys, quoted keys, inline tables, tabs and spaces).
// To review a change on purpose: regenerate with the CLI and read the diff.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { detectSyntax, migrate } from "../../migrations/index.ts";
import { parseConfig } from "../../src/config/index.ts";

const dir = new URL("../fixtures/migrate/", import.meta.url).pathname;
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".old.toml"))
  .map((f) => f.slice(0, -".old.toml".length));

test("there are golden files to check", () => {
  assert.ok(names.length >= 3);
});

for (const name of names) {
  test(`${name}.old.toml migrates to ${name}.new.toml, which loads and is a fixed point`, () => {
    const input = readFileSync(join(dir, `${name}.old.toml`), "utf8");
    const expected = readFileSync(join(dir, `${name}.new.toml`), "utf8");
    assert.equal(detectSyntax(input), "old");
    const result = migrate(input);
    assert.equal(result.text, expected);
    assert.equal(detectSyntax(result.text), "new");
    parseConfig(result.text, join(dir, `${name}.new.toml`));
    const again = migrate(result.text);
    assert.equal(again.text, result.text);
    assert.equal(again.from, "new");
    assert.deepEqual(again.changes, []);
  });
}

test("the golden inputs together use every key of the old syntax", () => {
  const all = names.map((n) => readFileSync(join(dir, `${n}.old.toml`), "utf8")).join("\n");
  const keys = [
    "id",
    "dir",
    "max_segment_size",
    "max_segment_count",
    "max_connections",
    "listen",
    "next_connection_delay_ms",
    "cert_path",
    "key_path",
    "ca_path",
    "pkcs12_path",
    "pkcs12_pass",
    "connection_timeout_ms",
    "max_client_id_len",
    "throttle_delay_ms",
    "max_payload_size",
    "max_inflight_count",
    "max_inflight_size",
    "login_credentials",
    "[cluster",
    "[replicator]",
    "[console]",
    "[[servers.3.connections.login_credentials]]",
  ];
  for (const key of keys) assert.ok(all.includes(key), key);
});
