// MQTT 5 topic aliases over real sockets, both ways: the broker accepts
// aliases 1..topic_alias_max (advertised in CONNACK) and refuses the rest
// with DISCONNECT 0x94; it gives the topics it sends aliases when the
// client's CONNECT allows them, least recently used first, and never keeps
// a mapping across connections.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type MqttPacket, ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const publish = (topic: string, alias: number | undefined, payload = "x"): MqttPacket => ({
  cmd: "publish",
  topic,
  payload: Buffer.from(payload),
  qos: 0,
  dup: false,
  retain: false,
  ...(alias === undefined ? {} : { properties: { topicAlias: alias } }),
});

const isPublish = (p: MqttPacket) => p.cmd === "publish";

async function expectDisconnect(raw: RawClient, reasonCode: number): Promise<void> {
  const d = await raw.next((p) => p.cmd === "disconnect");
  assert.equal(d.cmd === "disconnect" && d.reasonCode, reasonCode);
  await raw.waitClosed();
}

describe("MQTT 5 topic aliases, client to broker", () => {
  test("MQTT.js publishing through aliases reaches subscribers on the full topic; CONNACK advertises topic_alias_max [MQTT-3.3.2-12]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 3 } });
    const sub = await client(t, b.v5, { protocolVersion: 5, clientId: "sub" });
    const got = collect(sub);
    await sub.subscribeAsync("a/#", { qos: 1 });
    let connack: MqttPacket | undefined;
    const sent: MqttPacket[] = [];
    const pub = await client(
      t,
      b.v5,
      { protocolVersion: 5, clientId: "pub", autoAssignTopicAlias: true },
      (c) => {
        c.on("packetreceive", (p) => {
          if (p.cmd === "connack") connack = p as MqttPacket;
        });
        c.on("packetsend", (p) => {
          if (p.cmd === "publish") sent.push(structuredClone(p) as MqttPacket);
        });
      },
    );
    assert.equal(connack?.cmd === "connack" && connack.properties?.topicAliasMaximum, 3);
    for (const topic of ["a/1", "a/2", "a/1", "a/1", "a/2"]) {
      await pub.publishAsync(topic, topic, { qos: 1 });
    }
    const messages = await got.next(5);
    assert.deepEqual(
      messages.map((m) => m.topic),
      ["a/1", "a/2", "a/1", "a/1", "a/2"],
    );
    assert.ok(
      sent.some((p) => p.cmd === "publish" && p.topic === "" && p.properties?.topicAlias),
      "the client did send PUBLISHes with only an alias",
    );
  });

  test("topic alias 0 gets DISCONNECT 0x94 [MQTT-3.3.2-8]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 5 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "zero" });
    raw.send(publish("a", 0));
    await expectDisconnect(raw, ReasonCode.TopicAliasInvalid);
  });

  test("a topic alias above the advertised maximum gets DISCONNECT 0x94 [MQTT-3.3.2-9]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 5 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "above" });
    raw.send(publish("a", 5));
    raw.send(publish("b", 6));
    await expectDisconnect(raw, ReasonCode.TopicAliasInvalid);
  });

  test("an empty topic with an alias that was never set is a protocol error (0x82)", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 5 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "unset" });
    raw.send(publish("", 2));
    await expectDisconnect(raw, ReasonCode.ProtocolError);
  });

  test("an alias set on one connection means nothing on the next [MQTT-3.3.2-7]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 5 } });
    const watcher = await client(t, b.v5, { protocolVersion: 5, clientId: "watch" });
    const got = collect(watcher);
    await watcher.subscribeAsync("x/#", { qos: 0 });
    const first = await RawClient.open(t, b.v5, 5);
    await first.connect({ clientId: "again" });
    first.send(publish("x/y", 1, "one"));
    first.send(publish("", 1, "two"));
    assert.deepEqual(
      (await got.next(2)).map((m) => [m.topic, m.payload]),
      [
        ["x/y", "one"],
        ["x/y", "two"],
      ],
    );
    first.socket.end();
    await first.waitClosed();
    const second = await RawClient.open(t, b.v5, 5);
    await second.connect({ clientId: "again" });
    second.send(publish("", 1, "three"));
    await expectDisconnect(second, ReasonCode.ProtocolError);
  });
});

describe("MQTT 5 topic aliases, broker to client", () => {
  test("topics get aliases 1..the client's maximum, known ones go without their name, the least recently used is reused [MQTT-3.1.2-26]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 10 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "aliased", properties: { topicAliasMaximum: 2 } });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "t/#", qos: 0 }] });
    await raw.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    const topics = ["t/1", "t/1", "t/2", "t/3", "t/2", "t/1"];
    for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1 });
    const seen: Array<[string, number | undefined, string]> = [];
    for (let i = 0; i < topics.length; i++) {
      const p = await raw.next(isPublish);
      if (p.cmd !== "publish") continue;
      seen.push([p.topic, p.properties?.topicAlias, p.payload.toString()]);
    }
    assert.deepEqual(seen, [
      ["t/1", 1, "t/1"],
      ["", 1, "t/1"],
      ["t/2", 2, "t/2"],
      // t/1 was used before t/2: its alias is the least recently used one.
      ["t/3", 1, "t/3"],
      ["", 2, "t/2"],
      ["t/1", 1, "t/1"],
    ]);
  });

  test("a client that allows no aliases gets none [MQTT-3.1.2-27]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "plain" });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "t/#", qos: 0 }] });
    await raw.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    await pub.publishAsync("t/1", "a", { qos: 1 });
    await pub.publishAsync("t/1", "b", { qos: 1 });
    for (let i = 0; i < 2; i++) {
      const p = await raw.next(isPublish);
      assert.equal(p.cmd === "publish" && p.topic, "t/1");
      assert.equal(p.cmd === "publish" && p.properties?.topicAlias, undefined);
    }
  });

  test("MQTT.js with one alias receives interleaved topics right", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 10 } });
    const sub = await client(t, b.v5, {
      protocolVersion: 5,
      clientId: "one-alias",
      properties: { topicAliasMaximum: 1 },
    });
    const got = collect(sub);
    await sub.subscribeAsync("m/#", { qos: 1 });
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    const topics = ["m/a", "m/b", "m/b", "m/a", "m/c", "m/c"];
    for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1 });
    const messages = await got.next(topics.length);
    assert.deepEqual(
      messages.map((m) => [m.topic, m.payload]),
      topics.map((topic) => [topic, topic]),
    );
  });

  test("after a reconnect the first message on a topic carries its name again [MQTT-3.3.2-7]", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 10 } });
    const connectFields = {
      clientId: "resumer",
      clean: false,
      properties: { topicAliasMaximum: 5, sessionExpiryInterval: 60 },
    };
    const first = await RawClient.open(t, b.v5, 5);
    await first.connect(connectFields);
    first.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "r/#", qos: 0 }] });
    await first.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    await pub.publishAsync("r/1", "a", { qos: 1 });
    await pub.publishAsync("r/1", "b", { qos: 1 });
    assert.equal((await first.next(isPublish)).cmd === "publish", true);
    const second = await first.next(isPublish);
    assert.equal(second.cmd === "publish" && second.topic, "", "aliased on the first connection");
    first.socket.end();
    await first.waitClosed();
    const again = await RawClient.open(t, b.v5, 5);
    await again.connect(connectFields);
    await pub.publishAsync("r/1", "c", { qos: 1 });
    const p = await again.next(isPublish);
    assert.equal(p.cmd === "publish" && p.topic, "r/1");
    assert.equal(p.cmd === "publish" && p.properties?.topicAlias, 1);
    assert.equal(p.cmd === "publish" && p.payload.toString(), "c");
  });
  test("a client asking for 65535 aliases gets at most the listener's topic_alias_max: memory per connection stays bounded (STYLE rule 5)", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 3 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "greedy", properties: { topicAliasMaximum: 65_535 } });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "g/#", qos: 0 }] });
    await raw.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    const topics = ["g/1", "g/2", "g/3", "g/4", "g/5", "g/1"];
    for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1 });
    const seen: Array<[string, number | undefined]> = [];
    for (let i = 0; i < topics.length; i++) {
      const p = await raw.next(isPublish);
      if (p.cmd === "publish") seen.push([p.topic, p.properties?.topicAlias]);
    }
    assert.deepEqual(seen, [
      ["g/1", 1],
      ["g/2", 2],
      ["g/3", 3],
      // The three aliases are taken: the least recently used ones are reused.
      ["g/4", 1],
      ["g/5", 2],
      ["g/1", 3],
    ]);
  });

  test("with topic_alias_max = 0 the broker uses no outbound aliases either", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 0 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "none", properties: { topicAliasMaximum: 10 } });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "n/#", qos: 0 }] });
    await raw.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    await pub.publishAsync("n/1", "a", { qos: 1 });
    await pub.publishAsync("n/1", "b", { qos: 1 });
    for (let i = 0; i < 2; i++) {
      const p = await raw.next(isPublish);
      assert.equal(p.cmd === "publish" && p.topic, "n/1");
      assert.equal(p.cmd === "publish" && p.properties?.topicAlias, undefined);
    }
  });
});
