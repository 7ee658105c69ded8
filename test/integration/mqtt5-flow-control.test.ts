// MQTT 5 flow control and packet sizes over real sockets: the client's
// Receive Maximum bounds the QoS 1/2 messages in flight towards it; the
// broker advertises its Maximum Packet Size and refuses larger packets with
// DISCONNECT 0x95; a message larger than the client's Maximum Packet Size
// is not sent to it and counts as delivered.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodePacket, type MqttPacket, ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const isPublish = (p: MqttPacket) => p.cmd === "publish";

/** Everything the broker wrote to `raw` before this returns has arrived (PINGREQ round trip). */
async function settle(raw: RawClient): Promise<void> {
  raw.send({ cmd: "pingreq" });
  await raw.next((p) => p.cmd === "pingresp");
}

describe("MQTT 5 flow control", () => {
  test("no more QoS 1 messages in flight towards a client than its Receive Maximum [MQTT-3.3.4-9]", async (t) => {
    const b = await startTestBroker(t, { connections: { maxInflightCount: 100 } });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "slow", properties: { receiveMaximum: 2 } });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "f/#", qos: 1 }] });
    await raw.next((p) => p.cmd === "suback");
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    // Every PUBACK to the publisher comes after its message was offered to the subscriber.
    for (let i = 1; i <= 5; i++) await pub.publishAsync("f/x", String(i), { qos: 1 });
    await settle(raw);
    const first = raw.packets.filter(isPublish);
    assert.deepEqual(
      first.map((p) => p.cmd === "publish" && p.payload.toString()),
      ["1", "2"],
    );
    raw.send({ cmd: "puback", packetId: first[0]?.packetId as number });
    const third = await raw.next(
      (p) => isPublish(p) && p.cmd === "publish" && p.payload.toString() === "3",
    );
    await settle(raw);
    assert.equal(raw.packets.filter(isPublish).length, 2, "one acknowledged, one more sent");
    assert.ok(third.packetId);
  });

  test("MQTT.js with Receive Maximum 1 gets every QoS 1 and 2 message, in order", async (t) => {
    const b = await startTestBroker(t);
    const sub = await client(t, b.v5, {
      protocolVersion: 5,
      clientId: "rm1",
      properties: { receiveMaximum: 1 },
    });
    const got = collect(sub);
    await sub.subscribeAsync("o/#", { qos: 2 });
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    const sent = Array.from({ length: 12 }, (_, i) => String(i));
    await Promise.all(sent.map((p, i) => pub.publishAsync("o/x", p, { qos: i % 2 === 0 ? 1 : 2 })));
    const messages = await got.next(sent.length);
    assert.deepEqual(
      messages.map((m) => m.payload),
      sent,
    );
  });

  test("Receive Maximum 0 in CONNECT is a protocol error", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "rm0", properties: { receiveMaximum: 0 } });
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.ProtocolError);
  });
});

describe("MQTT 5 maximum packet size", () => {
  test("CONNACK advertises the broker's Maximum Packet Size and a larger packet gets DISCONNECT 0x95 [MQTT-3.2.2-15]", async (t) => {
    const b = await startTestBroker(t, { connections: { maxPayloadSize: 100 } });
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "big" });
    const max = ack.cmd === "connack" ? (ack.properties?.maximumPacketSize as number) : 0;
    assert.ok(max > 100);
    // A small payload with a user property that takes the packet over the limit.
    const packet: MqttPacket = {
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("small"),
      qos: 0,
      dup: false,
      retain: false,
      userPropertyList: [
        ["k", "v".repeat(60_000)],
        ["k", "v".repeat(60_000)],
        ["k", "v".repeat(20_000)],
      ],
    };
    assert.ok(encodePacket(packet, 5).length > max);
    raw.send(packet);
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.PacketTooLarge);
    await raw.waitClosed();
  });

  for (const qos of [1, 2] as const) {
    test(`a QoS ${qos} message larger than the client's Maximum Packet Size is not sent and counts as delivered [MQTT-3.1.2-24] [MQTT-3.1.2-25]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.v5, 5);
      await raw.connect({
        clientId: "small",
        properties: { maximumPacketSize: 200, receiveMaximum: 1 },
      });
      raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "s/#", qos }] });
      await raw.next((p) => p.cmd === "suback");
      const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
      await pub.publishAsync("s/big", "x".repeat(500), { qos });
      await pub.publishAsync("s/small", "fits", { qos });
      // With Receive Maximum 1, the second message can only come if the first was released.
      const p = await raw.next(isPublish);
      assert.equal(p.cmd === "publish" && p.topic, "s/small");
      assert.equal(p.cmd === "publish" && p.payload.toString(), "fits");
      await settle(raw);
      assert.equal(raw.packets.filter(isPublish).length, 0, "the large one never came");
    });
  }

  test("Maximum Packet Size 0 in CONNECT is a protocol error", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "mps0", properties: { maximumPacketSize: 0 } });
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.ProtocolError);
  });
});
