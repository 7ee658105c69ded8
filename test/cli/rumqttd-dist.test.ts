// The built entry point (what `npm start` and the `rumqttd` bin run): compile
// with tsconfig.build.json into a private folder under .tmp/, start
// dist/src/cli/rumqttd.js on a config file, route one message, stop it with
// SIGTERM and expect exit 0.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import { withTimeout } from "../helpers/broker.ts";
import { CONFIG, configFile, root, startCli } from "../helpers/cli.ts";

test("the built dist/ entry point starts, routes a message and stops with exit 0", async (t) => {
  const out = join(root, ".tmp", `dist-test-${process.pid}`);
  await mkdir(join(root, ".tmp"), { recursive: true });
  t.after(() => rm(out, { recursive: true, force: true }));
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const build = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", out], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(build.status, 0, build.stdout + build.stderr);
  const { file } = await configFile(t, CONFIG);
  const { child, ports } = await startCli(t, file, [join(out, "src", "cli", "rumqttd.js")]);
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.v4}`, {
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  const got = new Promise<string>((resolve) => c.on("message", (_t, m) => resolve(String(m))));
  await c.subscribeAsync("dist/#", { qos: 1 });
  await c.publishAsync("dist/x", "built", { qos: 1 });
  assert.equal(await withTimeout(got, "the message"), "built");
  c.end(true);
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  assert.equal((await withTimeout(exited, "the exit"))[0], 0);
});
