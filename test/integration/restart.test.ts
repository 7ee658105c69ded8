// What survives a restart of the broker on the same data directory: retained
// messages, and persistent sessions with their subscriptions, cursors,
// unacknowledged messages and inbound QoS 2 packet ids (all written ahead, so
// a kill keeps them too: see test/cli/rumqttd.test.ts); and what must not
// come back: a session its client ended with a clean start.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { SHUTDOWN_DRAIN_MS } from "../../src/broker.ts";
import { IndexDb } from "../../storage/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

async function sharedDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-restart-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

for (const version of [4, 5] as const) {
  describe(`restart on the same data directory, MQTT ${version === 4 ? "3.1.1" : "5"}`, () => {
    test("retained messages survive a restart", async (t) => {
      const dir = await sharedDir(t);
      const first = await startTestBroker(t, { dir });
      const pub = await client(t, first.port(version), { protocolVersion: version });
      await pub.publishAsync("keep/a", "A", { qos: 1, retain: true });
      await pub.publishAsync("keep/b", "B", { qos: 1, retain: true });
      await pub.publishAsync("keep/b", "", { qos: 1, retain: true });
      pub.end(true);
      await first.broker.close();
      const second = await startTestBroker(t, { dir });
      const sub = await client(t, second.port(version), { protocolVersion: version });
      const got = collect(sub);
      await sub.subscribeAsync("keep/#", { qos: 1 });
      const [message] = await got.next(1);
      assert.deepEqual([message?.topic, message?.payload, message?.retain], ["keep/a", "A", true]);
    });

    test("a persistent session survives a graceful restart: subscriptions, offline messages, unacknowledged messages resent with DUP", async (t) => {
      const dir = await sharedDir(t);
      const first = await startTestBroker(t, { dir, connections: { maxInflightCount: 1 } });
      const fields =
        version === 5
          ? { clientId: "durable", clean: false, properties: { sessionExpiryInterval: 3600 } }
          : { clientId: "durable", clean: false };
      const raw = await RawClient.open(t, first.port(version), version);
      await raw.connect(fields);
      raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "d/#", qos: 1 }] });
      await raw.next((p) => p.cmd === "suback");
      const pub = await client(t, first.port(version), { protocolVersion: version });
      for (const n of ["1", "2", "3"]) await pub.publishAsync("d/x", n, { qos: 1 });
      const unacked = await raw.next((p) => p.cmd === "publish");
      assert.equal(unacked.cmd === "publish" && String(unacked.payload), "1");
      pub.end(true);
      // The stop waits for the unacknowledged message's PUBACK, which never
      // comes, only until its drain deadline.
      const stopStartedMs = Date.now();
      await first.broker.close();
      assert.ok(Date.now() - stopStartedMs < SHUTDOWN_DRAIN_MS + 3000, "stop not bounded");
      await raw.waitClosed();

      const second = await startTestBroker(t, { dir, connections: { maxInflightCount: 1 } });
      const back = await RawClient.open(t, second.port(version), version);
      const ack = await back.connect(fields);
      assert.equal(ack.cmd === "connack" && ack.sessionPresent, true);
      const payloads: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = await back.next((x) => x.cmd === "publish");
        assert.ok(p.cmd === "publish");
        if (i === 0) {
          assert.equal(p.dup, true);
          assert.equal(p.packetId, unacked.packetId);
        }
        payloads.push(String(p.payload));
        back.send({ cmd: "puback", packetId: p.packetId });
      }
      assert.deepEqual(payloads, ["1", "2", "3"]);
      // The subscription came back too: a new message is delivered.
      const pub2 = await client(t, second.port(version), { protocolVersion: version });
      await pub2.publishAsync("d/y", "4", { qos: 1 });
      const fresh = await back.next((x) => x.cmd === "publish");
      assert.equal(fresh.cmd === "publish" && String(fresh.payload), "4");
    });

    test("an inbound QoS 2 packet id awaiting PUBREL survives a graceful restart (no duplicate)", async (t) => {
      const dir = await sharedDir(t);
      const first = await startTestBroker(t, { dir });
      const fields =
        version === 5
          ? { clientId: "q2", clean: false, properties: { sessionExpiryInterval: 3600 } }
          : { clientId: "q2", clean: false };
      const raw = await RawClient.open(t, first.port(version), version);
      await raw.connect(fields);
      const publish = {
        cmd: "publish" as const,
        topic: "x/q2",
        payload: Buffer.from("exactly once"),
        qos: 2 as const,
        packetId: 42,
        dup: false,
        retain: false,
      };
      raw.send(publish);
      await raw.next((p) => p.cmd === "pubrec");
      await first.broker.close();
      await raw.waitClosed();

      const second = await startTestBroker(t, { dir });
      const sub = await client(t, second.port(version), { protocolVersion: version });
      const got = collect(sub);
      await sub.subscribeAsync("x/#", { qos: 2 });
      const back = await RawClient.open(t, second.port(version), version);
      await back.connect(fields);
      back.send({ ...publish, dup: true });
      await back.next((p) => p.cmd === "pubrec" && p.packetId === 42);
      back.send({ cmd: "pubrel", packetId: 42 });
      await back.next((p) => p.cmd === "pubcomp" && p.packetId === 42);
      const pub = await client(t, second.port(version), { protocolVersion: version });
      await pub.publishAsync("x/marker", "m", { qos: 1 });
      const [first1] = await got.next(1);
      assert.equal(first1?.payload, "m", "the resent QoS 2 PUBLISH was not delivered again");
    });
    test("a session ended by a clean start does not come back after a restart [MQTT-3.2.2-1]", async (t) => {
      const dir = await sharedDir(t);
      const first = await startTestBroker(t, { dir });
      const fields =
        version === 5
          ? { clientId: "fickle", clean: false, properties: { sessionExpiryInterval: 3600 } }
          : { clientId: "fickle", clean: false };
      const raw = await RawClient.open(t, first.port(version), version);
      await raw.connect(fields);
      raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "f/#", qos: 1 }] });
      await raw.next((p) => p.cmd === "suback");
      raw.send({ cmd: "disconnect" });
      await raw.waitClosed();
      const clean = await RawClient.open(t, first.port(version), version);
      await clean.connect({ clientId: "fickle", clean: true });
      clean.send({ cmd: "disconnect" });
      await clean.waitClosed();
      await first.broker.close();

      const second = await startTestBroker(t, { dir });
      const back = await RawClient.open(t, second.port(version), version);
      const ack = await back.connect(fields);
      assert.equal(ack.cmd === "connack" && ack.sessionPresent, false);
    });
  });
}

describe("session expiry across a restart", () => {
  test("a stored MQTT 5 session past its expiry interval is not restored, and its state is deleted; one within it is restored", async (t) => {
    const dir = await sharedDir(t);
    const data = join(dir, "data");
    await mkdir(data, { recursive: true });
    const index = await IndexDb.open({ dir: join(data, "index"), sync: "os" });
    const now = Date.now();
    await index
      .batch()
      .put(index.sessions, ["expired"], { expiryIntervalSec: 10, disconnectedAtMs: now - 60_000 })
      .put(index.sessions, ["gone"], { expiryIntervalSec: 10, disconnectedAtMs: now - 60_000 })
      .put(index.subscriptions, ["gone", "g/#"], { qos: 1, sinceOffset: 0 })
      .put(index.sessions, ["alive"], { expiryIntervalSec: 3600, disconnectedAtMs: now - 60_000 })
      .write();
    await index.close();
    const b = await startTestBroker(t, { dir });
    const fields = (clientId: string) => ({
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    const expired = await (await RawClient.open(t, b.v5, 5)).connect(fields("expired"));
    assert.equal(expired.cmd === "connack" && expired.sessionPresent, false);
    const alive = await (await RawClient.open(t, b.v5, 5)).connect(fields("alive"));
    assert.equal(alive.cmd === "connack" && alive.sessionPresent, true);
    await b.broker.close();
    // What an expired session left in the index was deleted at start.
    const after = await IndexDb.open({ dir: join(data, "index"), sync: "os" });
    t.after(() => after.close());
    assert.equal(await after.sessions.get(["gone"]), undefined);
    assert.equal(await after.subscriptions.get(["gone", "g/#"]), undefined);
    assert.notEqual(await after.sessions.get(["alive"]), undefined);
  });
});
