// Inbound QoS 2 exactly-once, v5 CONNACK and UNSUBACK details, and accept
// pacing, over real sockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodePacket, ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

for (const version of [4, 5] as const) {
  describe(`inbound QoS 2, MQTT ${version === 4 ? "3.1.1" : "5"}`, () => {
    test("a PUBLISH resent before PUBREL is delivered once; the id is free again after PUBCOMP (3.1.1 [MQTT-4.3.3-2])", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const sub = await client(t, port, { protocolVersion: version, clientId: "sub" });
      const got = collect(sub);
      await sub.subscribeAsync("q2/#", { qos: 2 });
      const raw = await RawClient.open(t, port, version);
      await raw.connect({ clientId: "pub2" });
      const publish = {
        cmd: "publish" as const,
        topic: "q2/a",
        payload: Buffer.from("once"),
        qos: 2 as const,
        packetId: 5,
        dup: false,
        retain: false,
      };
      raw.send(publish);
      raw.send({ ...publish, dup: true });
      await raw.next((p) => p.cmd === "pubrec" && p.packetId === 5);
      await raw.next((p) => p.cmd === "pubrec" && p.packetId === 5);
      raw.send({ cmd: "pubrel", packetId: 5 });
      await raw.next((p) => p.cmd === "pubcomp" && p.packetId === 5);
      raw.send({ ...publish, payload: Buffer.from("twice") });
      await raw.next((p) => p.cmd === "pubrec" && p.packetId === 5);
      const messages = await got.next(2);
      assert.deepEqual(
        messages.map((m) => m.payload),
        ["once", "twice"],
      );
    });
  });
}

describe("MQTT 5 details", () => {
  test("CONNACK carries Server Keep Alive when the client asks for more than max_keep_alive", async (t) => {
    const b = await startTestBroker(t, { connections: { maxKeepAliveSec: 30 } });
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "ka", keepalive: 600 });
    assert.equal(ack.cmd === "connack" && ack.properties?.serverKeepAlive, 30);
  });

  test("UNSUBACK says which filters had no subscription (0x11)", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "unsub" });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "a/b", qos: 0 }] });
    await raw.next((p) => p.cmd === "suback");
    raw.send({ cmd: "unsubscribe", packetId: 2, unsubscriptions: ["a/b", "c/d"] });
    const unsuback = await raw.next((p) => p.cmd === "unsuback");
    assert.deepEqual(unsuback.cmd === "unsuback" && unsuback.granted, [
      ReasonCode.Success,
      ReasonCode.NoSubscriptionExisted,
    ]);
  });

  test("more unacknowledged QoS 1 publishes than Receive Maximum get DISCONNECT 0x93 [MQTT-3.3.4-7]", async (t) => {
    const b = await startTestBroker(t, { connections: { receiveMaximum: 2 } });
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "flood" });
    assert.equal(ack.cmd === "connack" && ack.properties?.receiveMaximum, 2);
    // Three PUBLISHes in one write: the third arrives before the first two are committed.
    const publishes = [1, 2, 3].map((packetId) =>
      encodePacket(
        {
          cmd: "publish",
          topic: "f",
          payload: Buffer.from("x"),
          qos: 1,
          packetId,
          dup: false,
          retain: false,
        },
        5,
      ),
    );
    raw.write(Buffer.concat(publishes));
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ReceiveMaximumExceeded);
    await raw.waitClosed();
  });

  test("a topic alias is refused with DISCONNECT 0x94 while CONNACK advertises none", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "alias" });
    raw.send({
      cmd: "publish",
      topic: "a",
      payload: Buffer.from("x"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 1 },
    });
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.TopicAliasInvalid);
  });

  test("a client DISCONNECT with reason 0x04 still publishes the will", async (t) => {
    const b = await startTestBroker(t);
    const watcher = await client(t, b.v5, { protocolVersion: 5, clientId: "w" });
    const got = collect(watcher);
    await watcher.subscribeAsync("w/#", { qos: 0 });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({
      clientId: "leaver",
      will: { topic: "w/leaver", payload: Buffer.from("bye"), qos: 0, retain: false },
    });
    raw.send({ cmd: "disconnect", reasonCode: ReasonCode.DisconnectWithWillMessage });
    const [message] = await got.next(1);
    assert.equal(message?.payload, "bye");
  });
});

describe("accept pacing", () => {
  test("next_connection_delay_ms spaces out the accepted connections of a listener", async (t) => {
    const delayMs = 150;
    const b = await startTestBroker(t, { nextConnectionDelayMs: delayMs });
    const started = Date.now();
    const clients = await Promise.all([1, 2, 3].map(() => RawClient.open(t, b.v4, 4)));
    const acked = await Promise.all(
      clients.map(async (c, i) => {
        await c.connect({ clientId: `paced-${i}` });
        return Date.now() - started;
      }),
    );
    // Three accepts need at least two pauses between them.
    assert.ok(Math.max(...acked) >= 2 * delayMs - 20, `acks at ${acked.join(", ")} ms`);
  });
});
