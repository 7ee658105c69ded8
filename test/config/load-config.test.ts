// loadConfig reads the file from disk; paths in it are relative to its folder.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";

test("a file on disk loads with its data directory next to it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "broker.toml");
  await writeFile(file, '[router]\n[v4.1]\nlisten = "127.0.0.1:0"\n');
  const config = await loadConfig(file);
  assert.equal(config.file, file);
  assert.equal(config.storage.dir, join(dir, "data"));
});

test("a missing file is ERR_CONFIG_READ with the system's reason", async () => {
  await assert.rejects(loadConfig("/nonexistent/broker.toml"), (err: unknown) => {
    return (
      err instanceof ConfigError &&
      err.code === "ERR_CONFIG_READ" &&
      err.problems[0] === "/nonexistent/broker.toml: cannot read the config file (ENOENT)"
    );
  });
});
