// The rumqttd-migrate command, run as a process on temporary files: exit
// codes (0 done, 2 bad usage or invalid input), what goes to standard output
// and standard error, -o, --in-place with its .bak, --help.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";

const root = new URL("../../", import.meta.url).pathname;
const OLD = `# my broker
[router]
dir = "/var/lib/rumqttd"   # data
[servers.1]   # plain
listen = "0.0.0.0:1883"
`;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/rumqttd-migrate.ts", ...args],
    { cwd: root, encoding: "utf8", timeout: 30_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function tempFile(t: TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "migrate-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "old.toml");
  await writeFile(file, text);
  return file;
}

test("an old file is converted to standard output, changes listed on standard error, exit 0", async (t) => {
  const file = await tempFile(t, OLD);
  const { status, stdout, stderr } = run([file]);
  assert.equal(status, 0, stderr);
  assert.equal(
    stdout,
    '# my broker\n[router]\n\n[storage]\ndir = "/var/lib/rumqttd"   # data\n[v4.1]   # plain\nname = "v4-1"\nlisten = "0.0.0.0:1883"\n',
  );
  assert.ok(stderr.includes(`${file}:3: router.dir: moved to storage.dir`), stderr);
  assert.ok(stderr.includes(`${file}:4: servers.1: renamed to [v4.1]`), stderr);
  assert.match(stderr, /converted \(3 changes, 0 warnings\); written to standard output/);
  assert.equal(await readFile(file, "utf8"), OLD);
});

test("-o FILE writes the new config there and nothing to standard output", async (t) => {
  const file = await tempFile(t, OLD);
  const out = `${file}.new`;
  const { status, stdout } = run(["-o", out, file]);
  assert.equal(status, 0);
  assert.equal(stdout, "");
  assert.match(await readFile(out, "utf8"), /^\[v4\.1\] {3}# plain$/m);
});

test("--in-place replaces the file after keeping the original as FILE.bak", async (t) => {
  const file = await tempFile(t, OLD);
  const { status, stdout, stderr } = run(["--in-place", file]);
  assert.equal(status, 0, stderr);
  assert.equal(stdout, "");
  assert.equal(await readFile(`${file}.bak`, "utf8"), OLD);
  assert.match(await readFile(file, "utf8"), /^\[v4\.1\]/m);
  assert.match(stderr, /the original is in .*old\.toml\.bak/);
});

test("warnings are printed as file:line: key: warning: message", async (t) => {
  const file = await tempFile(t, OLD.replace("/var/lib/rumqttd", "/tmp/r"));
  const { status, stderr } = run([file]);
  assert.equal(status, 0);
  assert.ok(stderr.includes(`${file}:3: router.dir: warning: "/tmp/r" is under /tmp`), stderr);
});

test("a file already in the new syntax comes out unchanged, with a message saying so", async (t) => {
  const text = '# new\n[router]\n[v4.1]\nlisten = "0.0.0.0:1883"\n';
  const file = await tempFile(t, text);
  const { status, stdout, stderr } = run([file]);
  assert.equal(status, 0);
  assert.equal(stdout, text);
  assert.match(stderr, /already in the new config syntax; nothing to change/);
});

test("invalid old syntax exits 2 with file:line: key: message and writes nothing", async (t) => {
  const file = await tempFile(t, `${OLD}max_payload = 1\n`);
  const { status, stdout, stderr } = run(["--in-place", file]);
  assert.equal(status, 2);
  assert.equal(stdout, "");
  assert.ok(
    stderr.startsWith(`${file}:6: servers.1.max_payload: unknown key in the old syntax\n`),
    stderr,
  );
  assert.equal(await readFile(file, "utf8"), `${OLD}max_payload = 1\n`);
  await assert.rejects(readFile(`${file}.bak`));
});

test("a misspelt old key gets a did-you-mean hint naming the old key", async (t) => {
  const file = await tempFile(t, `${OLD}[servers.1.connections]\nmax_paylod_size = 5\n`);
  const { status, stderr } = run([file]);
  assert.equal(status, 2);
  assert.match(
    stderr,
    /:7: servers\.1\.connections\.max_paylod_size: unknown key in the old syntax \(did you mean `max_payload_size`\?\)/,
  );
});

test("broken TOML exits 2 with the parser's line", async (t) => {
  const file = await tempFile(t, `${OLD}listen = = 1\n`);
  const { status, stderr } = run([file]);
  assert.equal(status, 2);
  assert.ok(stderr.startsWith(`${file}:6: not valid TOML: `), stderr);
});

test("bad usage exits 2 with the usage text; --help exits 0", async (t) => {
  const file = await tempFile(t, OLD);
  for (const args of [[], ["--nope", file], [file, file], ["-o", "x", "--in-place", file]]) {
    const { status, stderr } = run(args);
    assert.equal(status, 2, args.join(" "));
    assert.match(stderr, /^rumqttd-migrate: /);
  }
  const help = run(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: rumqttd-migrate/);
});

test("a file that cannot be read exits 2 with one line", () => {
  const { status, stderr } = run(["/nonexistent/old.toml"]);
  assert.equal(status, 2);
  assert.equal(stderr, "rumqttd-migrate: /nonexistent/old.toml: cannot read the file (ENOENT)\n");
});
