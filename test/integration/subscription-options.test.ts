// MQTT 5 subscription options (No Local, Retain As Published, Retain
// Handling) and subscription identifiers, over real sockets with the mqtt
// client at protocol version 5; and that both are stored with a persistent
// session's subscription and survive a restart.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import type { MqttClient } from "mqtt";
import { ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const V5 = { protocolVersion: 5 } as const;

/**
 * Publishes a marker (the subscriber must be subscribed to its topic) and
 * waits for it: delivery is in log order, so what arrived between the
 * previous marker and this one is all that was sent before it.
 */
async function upTo(
  pub: MqttClient,
  got: ReturnType<typeof collect>,
  topic: string,
): Promise<string[]> {
  const from = got.all.findLastIndex((m) => m.topic.startsWith("marker/")) + 1;
  await pub.publishAsync(topic, "marker", { qos: 1 });
  for (let n = from + 1; ; n++) {
    const all = await got.next(n);
    if (all.at(-1)?.topic === topic) {
      return all.slice(from, -1).map((m) => `${m.topic}=${m.payload}`);
    }
  }
}

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-subopts-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe("subscription options (MQTT 5)", () => {
  test("No Local: a client's own messages are not sent back to it, others' are; a plain overlapping subscription still gets them [MQTT-3.8.3-3]", async (t) => {
    const b = await startTestBroker(t);
    const me = await client(t, b.v5, { ...V5, clientId: "me" });
    const got = collect(me);
    await me.subscribeAsync("nl/#", { qos: 1, nl: true });
    const other = await client(t, b.v5, { ...V5, clientId: "other" });
    await me.publishAsync("nl/mine", "1", { qos: 1 });
    await other.publishAsync("nl/theirs", "2", { qos: 1 });
    await me.subscribeAsync("marker/#", { qos: 1 });
    assert.deepEqual(await upTo(other, got, "marker/1"), ["nl/theirs=2"]);
    await me.subscribeAsync("nl/+", { qos: 1 });
    await me.publishAsync("nl/mine", "3", { qos: 1 });
    assert.deepEqual(await upTo(other, got, "marker/2"), ["nl/mine=3"]);
  });

  test("Retain As Published keeps the RETAIN flag on forwarded messages; without it RETAIN is 0 [MQTT-3.3.1-12] [MQTT-3.3.1-13]", async (t) => {
    const b = await startTestBroker(t);
    const keep = await client(t, b.v5, { ...V5, clientId: "keep" });
    const keepGot = collect(keep);
    await keep.subscribeAsync("rap/#", { qos: 1, rap: true });
    const clear = await client(t, b.v5, { ...V5, clientId: "clear" });
    const clearGot = collect(clear);
    await clear.subscribeAsync("rap/#", { qos: 1, rap: false });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("rap/x", "r", { qos: 1, retain: true });
    await pub.publishAsync("rap/y", "n", { qos: 1, retain: false });
    const kept = await keepGot.next(2);
    const cleared = await clearGot.next(2);
    assert.deepEqual(
      kept.map((m) => m.retain),
      [true, false],
    );
    assert.deepEqual(
      cleared.map((m) => m.retain),
      [false, false],
    );
  });

  test("Retain Handling 0 sends retained messages at every SUBSCRIBE, 1 only for a new subscription, 2 never [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]", async (t) => {
    const b = await startTestBroker(t);
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("rh/a/x", "kept", { qos: 1, retain: true });
    await pub.publishAsync("rh/b/x", "kept", { qos: 1, retain: true });
    await pub.publishAsync("rh/c/x", "kept", { qos: 1, retain: true });
    const sub = await client(t, b.v5, { ...V5, clientId: "sub" });
    const got = collect(sub);
    await sub.subscribeAsync("marker/#", { qos: 1, rh: 2 });
    const seen: string[][] = [];
    const step = async (filter: string, rh: 0 | 1 | 2, n: number) => {
      await sub.subscribeAsync(filter, { qos: 1, rh });
      seen.push(await upTo(pub, got, `marker/${n}`));
    };
    await step("rh/a/#", 0, 1);
    await step("rh/a/#", 0, 2);
    await step("rh/b/#", 1, 3);
    await step("rh/b/#", 1, 4);
    await step("rh/c/#", 2, 5);
    assert.deepEqual(seen, [["rh/a/x=kept"], ["rh/a/x=kept"], ["rh/b/x=kept"], [], []]);
  });

  test("overlapping subscriptions give one copy carrying every subscription identifier [MQTT-3.3.4-3] [MQTT-3.3.4-4]", async (t) => {
    const b = await startTestBroker(t);
    const sub = await client(t, b.v5, { ...V5, clientId: "ids" });
    const got = collect(sub);
    await sub.subscribeAsync("id/+", { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await sub.subscribeAsync("id/#", { qos: 0, properties: { subscriptionIdentifier: 300000 } });
    await sub.subscribeAsync("id/x", { qos: 0 });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("id/x", "both", { qos: 1 });
    await pub.publishAsync("id/y/z", "one", { qos: 1 });
    await pub.publishAsync("id/end", "end", { qos: 1 });
    const [both, one, end] = await got.next(3);
    assert.equal(both?.payload, "both");
    assert.equal(both?.qos, 1, "the highest granted QoS [MQTT-3.3.4-2]");
    const ids = both?.properties?.subscriptionIdentifier;
    assert.deepEqual(Array.isArray(ids) ? [...ids].sort((x, y) => x - y) : ids, [7, 300000]);
    assert.equal(one?.payload, "one");
    assert.equal(one?.properties?.subscriptionIdentifier, 300000);
    assert.equal(end?.payload, "end");
  });

  test("a retained message sent on SUBSCRIBE carries the subscription's identifier; CONNACK says both features are available", async (t) => {
    const b = await startTestBroker(t);
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("rid/x", "r", { qos: 1, retain: true });
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "rid" });
    assert.ok(ack.cmd === "connack");
    assert.equal(ack.properties?.subscriptionIdentifiersAvailable ?? true, true);
    assert.equal(ack.properties?.sharedSubscriptionAvailable ?? true, true);
    raw.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "rid/#", qos: 1 }],
      properties: { subscriptionIdentifier: 42 },
    });
    const retained = await raw.next((p) => p.cmd === "publish");
    assert.ok(retained.cmd === "publish");
    assert.equal(retained.retain, true);
    assert.equal(retained.properties?.subscriptionIdentifier, 42);
  });

  test("a Subscription Identifier of 0 is a protocol error: DISCONNECT 0x82", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "zero" });
    raw.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "z/#", qos: 1 }],
      properties: { subscriptionIdentifier: 0 },
    });
    const d = await raw.next((p) => p.cmd === "disconnect" || p.cmd === "suback");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
    await raw.waitClosed();
  });

  test("subscription options and identifiers are stored with a persistent session's subscription and survive a restart", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    const options = {
      ...V5,
      clientId: "durable-opts",
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    };
    const sub = await client(t, first.v5, options);
    await sub.subscribeAsync("so/#", {
      qos: 1,
      nl: true,
      rap: true,
      properties: { subscriptionIdentifier: 9 },
    });
    await sub.endAsync();
    await first.broker.close();

    const second = await startTestBroker(t, { dir });
    let got: ReturnType<typeof collect> | undefined;
    const back = await client(t, second.v5, options, (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const pub = await client(t, second.v5, { ...V5, clientId: "pub" });
    await back.publishAsync("so/own", "own", { qos: 1 });
    await pub.publishAsync("so/r", "r", { qos: 1, retain: true });
    const [message] = await got.next(1);
    assert.equal(message?.payload, "r", "No Local survived: the own message was not sent back");
    assert.equal(message?.retain, true, "Retain As Published survived");
    assert.equal(message?.properties?.subscriptionIdentifier, 9);
  });
});
