// The old-to-new step, rule by rule (CONFIG.md "From old to new"), and
// detectSyntax. Golden files cover whole files; these pin single behaviours.

import assert from "node:assert/strict";
import { test } from "node:test";
import { detectSyntax, MigrationError, migrate } from "../../migrations/index.ts";

const SERVER = '[servers.1]\nlisten = "0.0.0.0:1883"\n';

function problemsOf(text: string): { line: number; key: string; message: string }[] {
  try {
    migrate(text);
  } catch (err) {
    assert.ok(err instanceof MigrationError);
    return [...err.problems];
  }
  assert.fail("expected a MigrationError");
}

test("detectSyntax tells old, new and neither apart, as CONFIG.md defines them", () => {
  assert.equal(detectSyntax(SERVER), "old");
  assert.equal(detectSyntax('[cluster.0]\naddress = "a"\n'), "old");
  assert.equal(detectSyntax("[replicator]\n"), "old");
  assert.equal(detectSyntax('[v4.1]\nlisten = "a:1"\n'), "new");
  assert.equal(detectSyntax("[ws]\n"), "new");
  assert.equal(detectSyntax("[cluster]\nnode_id = 0\n"), "unknown");
  assert.equal(detectSyntax("[router]\n"), "unknown");
  assert.equal(detectSyntax('a = "broken\n'), "unknown");
});

test('a server gets its new table name and name = "v4-N", and keeps its keys', () => {
  const { text, changes } = migrate(`${SERVER}next_connection_delay_ms = 1\n`);
  assert.equal(
    text,
    '[v4.1]\nname = "v4-1"\nlisten = "0.0.0.0:1883"\nnext_connection_delay_ms = 1\n',
  );
  assert.deepEqual(
    changes.map((c) => [c.line, c.key]),
    [
      [1, "servers.1"],
      [1, "servers.1"],
    ],
  );
});

test("a server written with dotted keys gets its name as a dotted key too", () => {
  const { text } = migrate(
    'servers.a.listen = "0.0.0.0:1"\n[servers.a.connections]\nmax_payload_size = 1\n',
  );
  assert.equal(
    text,
    'v4.a.name = "v4-a"\nv4.a.listen = "0.0.0.0:1"\n[v4.a.connections]\nmax_payload_size = 1\n',
  );
});

test("a server written as an inline table gets its name inside it", () => {
  const { text } = migrate('[servers]\n2 = { listen = "0.0.0.0:1" }\n');
  assert.equal(text, '[v4]\n2 = { name = "v4-2", listen = "0.0.0.0:1" }\n');
});

test("trailing comments stay on their lines through renames", () => {
  const { text } = migrate(
    `${SERVER}[servers.1.cert] # tls\ncert_path = "/c" # cert\nkey_path = "/k"\n`,
  );
  assert.match(text, /\[v4\.1\.tls\] # tls\ncertpath = "\/c" # cert\nkeypath = "\/k"/);
});

test("usernames that are not bare keys are quoted in auth", () => {
  const { text } = migrate(
    `${SERVER}[servers.1.connections]\nlogin_credentials = [{ username = "a b", password = "p" }, { username = 'x"y', password = "q" }]\n`,
  );
  assert.match(text, /auth = \{ "a b" = "p", "x\\"y" = "q" \}/);
});

test("router.dir moves to a new [storage] table after [router], with its comment", () => {
  const { text, warnings } = migrate(
    `[router]\nid = 0\ndir = "/srv/data" # here\nmax_connections = 1\n\n${SERVER}`,
  );
  assert.ok(
    text.startsWith(
      '[router]\nid = 0\nmax_connections = 1\n\n[storage]\ndir = "/srv/data" # here\n\n[v4.1]',
    ),
    text,
  );
  assert.deepEqual(warnings, []);
});

test("a data directory under /tmp and a relative one are warned about", () => {
  const { warnings } = migrate(`[router]\ndir = "/tmp/rumqttd"\n${SERVER}`);
  assert.match(warnings[0]?.message ?? "", /does not survive a reboot/);
  const relative = migrate(`[router]\ndir = "data"\n${SERVER}`).warnings;
  assert.match(relative[0]?.message ?? "", /relative/);
});

test("ca_path is warned about: client certificates become required", () => {
  const { warnings } = migrate(
    `${SERVER}[servers.1.cert]\ncert_path = "/c"\nkey_path = "/k"\nca_path = "/ca"\n`,
  );
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.key, "servers.1.cert.ca_path");
  assert.equal(warnings[0]?.line, 6);
});

test("[cluster] and [replicator] become comments that keep their values, with a warning each", () => {
  const { text, warnings } = migrate(
    `${SERVER}\n[cluster]\n  [cluster.0]\n  address = "a:1" # node 0\n[replicator]\nmax_payload_size = 1\n`,
  );
  assert.match(
    text,
    /# \[cluster\]\n {2}# \[cluster\.0\]\n {2}# address = "a:1" # node 0\n# \[replicator\]\n# max_payload_size = 1\n$/,
  );
  assert.deepEqual(
    warnings.map((w) => w.key),
    ["cluster", "replicator"],
  );
});

test("input already in the new syntax comes back unchanged and says so", () => {
  const text = '# mine\n[router]\n[v4.1]\nlisten = "0.0.0.0:1883"\n';
  assert.deepEqual(migrate(text), { text, changes: [], warnings: [], from: "new" });
});

test("invalid old syntax lists every problem with its line and key", () => {
  const problems = problemsOf(
    `[router]\ndirr = "x"\n[servers.1]\nlisten = 1883\n[servers.1.connections]\nlogin_credentials = [{ username = "u" }, { username = "u", password = "p" }]\n`,
  );
  assert.deepEqual(
    problems.map((p) => [p.line, p.key]),
    [
      [2, "router.dirr"],
      [4, "servers.1.listen"],
      [6, "servers.1.connections.login_credentials[0]"],
      [6, "servers.1.connections.login_credentials[1].username"],
    ],
  );
});

test("two servers on one address are refused: the new broker would not start", () => {
  const [problem] = problemsOf(`${SERVER}[servers.2]\nlisten = "0.0.0.0:1883"\n`);
  assert.equal(problem?.key, "servers.2.listen");
  assert.equal(problem?.line, 4);
});

test("broken TOML is reported with its line", () => {
  const [problem] = problemsOf(`${SERVER}x = = 1\n`);
  assert.equal(problem?.line, 3);
  assert.match(problem?.message ?? "", /^not valid TOML/);
});

test("an old file without any server is refused: the new broker would have nothing to listen on", () => {
  const [problem] = problemsOf('[router]\n[cluster.0]\naddress = "a:1"\n');
  assert.match(problem?.message ?? "", /no \[servers\.N\] table/);
});

test("a file in neither syntax is refused", () => {
  assert.match(problemsOf("[router]\nid = 0\n")[0]?.message ?? "", /not a rumqttd config file/);
});
