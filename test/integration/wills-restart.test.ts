// Wills across a restart of the broker on the same data directory (issue 4:
// the will is part of a persistent session's stored state). A will waiting
// for its delay when the broker stops is published after the restart at its
// time, or at start if that time passed while the broker was down, and not
// at all if its client comes back in time; a client the stopping broker
// disconnects has its will published (spec 3.1.2.5: the client did not send
// DISCONNECT). The kill variant is test/durability/wills-kill.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const V5 = { protocolVersion: 5 } as const;

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-wills-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const watcherOptions = {
  ...V5,
  clientId: "watcher",
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
};

function deviceFields(clientId: string, willDelaySec: number) {
  return {
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    will: {
      topic: `will/${clientId}`,
      payload: Buffer.from(`${clientId} gone`),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: willDelaySec },
    },
  };
}

/** A persistent watcher session subscribed to will/# that is offline until `watch`. */
async function offlineWatcher(t: TestContext, port: number): Promise<void> {
  const watcher = await client(t, port, watcherOptions);
  await watcher.subscribeAsync("will/#", { qos: 1 });
  await watcher.endAsync();
}

async function watch(t: TestContext, port: number): Promise<ReturnType<typeof collect>> {
  let got: ReturnType<typeof collect> | undefined;
  await client(t, port, watcherOptions, (c) => {
    got = collect(c);
  });
  assert.ok(got !== undefined);
  return got;
}

describe("wills across a restart", () => {
  test("a will waiting for its delay at a stop is published after the restart, at its time", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    await offlineWatcher(t, first.v5);
    const device = await RawClient.open(t, first.v5, 5);
    await device.connect(deviceFields("later", 2));
    const lost = Date.now();
    device.socket.destroy();
    await device.waitClosed();
    await first.broker.close();

    const second = await startTestBroker(t, { dir });
    const got = await watch(t, second.v5);
    const [will] = await got.next(1);
    assert.equal(will?.topic, "will/later");
    assert.ok(Date.now() - lost >= 1800, "not before its delay");
  });

  test("a will whose time passed while the broker was down is published at start", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    await offlineWatcher(t, first.v5);
    const device = await RawClient.open(t, first.v5, 5);
    await device.connect(deviceFields("overdue", 1));
    device.socket.destroy();
    await device.waitClosed();
    await first.broker.close();
    await sleep(1200);

    const started = Date.now();
    const second = await startTestBroker(t, { dir });
    const got = await watch(t, second.v5);
    const [will] = await got.next(1);
    assert.equal(will?.topic, "will/overdue");
    assert.ok(Date.now() - started < 1000, "published at start");
  });

  test("a client that comes back after the restart, before its will delay, cancels its will [MQTT-3.1.3-9]", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    await offlineWatcher(t, first.v5);
    const device = await RawClient.open(t, first.v5, 5);
    await device.connect(deviceFields("returner", 1));
    device.socket.destroy();
    await device.waitClosed();
    await first.broker.close();

    const second = await startTestBroker(t, { dir });
    const back = await RawClient.open(t, second.v5, 5);
    const ack = await back.connect({ ...deviceFields("returner", 1), will: undefined });
    assert.equal(ack.cmd === "connack" && ack.sessionPresent, true);
    await sleep(1200);
    const got = await watch(t, second.v5);
    const pub = await client(t, second.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("will/marker", "m", { qos: 1 });
    const [first1] = await got.next(1);
    assert.equal(first1?.topic, "will/marker", "the will was not published");
  });

  test("clients connected when the broker stops get their wills published: at once, or after the restart when delayed", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    await offlineWatcher(t, first.v5);
    const now = await RawClient.open(t, first.v5, 5);
    await now.connect(deviceFields("at-stop", 0));
    const delayed = await RawClient.open(t, first.v5, 5);
    await delayed.connect(deviceFields("after-restart", 1));
    await first.broker.close();

    const second = await startTestBroker(t, { dir });
    const got = await watch(t, second.v5);
    const wills = await got.next(2);
    assert.deepEqual(
      wills.map((w) => w.topic),
      ["will/at-stop", "will/after-restart"],
    );
  });
});
