// rumqttd's own sample config (new syntax) loads unchanged and the broker
// starts on it: the listeners it cannot run yet (TLS, WebSocket) are skipped
// with a warning, the others serve clients (here on port 0 and a temporary
// data directory, so the test can run anywhere).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { planListeners, startBroker } from "../../src/broker.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/log.ts";
import { RawClient } from "../helpers/broker.ts";

const SAMPLE = new URL("../fixtures/config/rumqttd-sample.toml", import.meta.url).pathname;

test("rumqttd's sample config starts: v4.1 and v5.1 serve, v4.2 (TLS) and ws.1 are skipped with a warning", async (t) => {
  const config = await loadConfig(SAMPLE);
  const plan = planListeners(config);
  assert.deepEqual(
    plan.listeners.map((l) => `${l.kind}.${l.key}`),
    ["v4.1", "v5.1"],
  );
  assert.equal(plan.warnings.length, 2);
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-sample-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const local = {
    ...config,
    storage: { ...config.storage, dir: join(dir, "data") },
    listeners: config.listeners.map((l) => ({ ...l, host: "127.0.0.1", port: 0 })),
  };
  const broker = await startBroker(local, createLogger({ level: "silent" }));
  t.after(() => broker.close());
  const v4 = broker.addresses.find((a) => a.name === "v4-1");
  assert.ok(v4 !== undefined);
  const raw = await RawClient.open(t, v4.port, 4);
  const ack = await raw.connect({
    clientId: "sample",
    username: "user1",
    password: Buffer.from("p@ssw0rd"),
  });
  assert.equal(ack.cmd === "connack" && ack.returnCode, 0);
});
