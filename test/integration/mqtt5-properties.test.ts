// MQTT 5 properties that travel with a message, over real sockets: payload
// format indicator, content type, response topic, correlation data and user
// properties reach subscribers unchanged, user properties in the
// publisher's order, also from the log after a restart and on a will; and
// what the broker adds itself: reason strings, left out of acknowledgements
// when the client asked for no problem information.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import type { IPublishPacket } from "mqtt";
import { type MqttPacket, ReasonCode, type UserProperty } from "../../src/protocol/index.ts";
import { client, RawClient, startTestBroker, withTimeout } from "../helpers/broker.ts";

const isPublish = (p: MqttPacket) => p.cmd === "publish";

/** Interleaved and integer-like names: an object would reorder these. */
const ORDERED: UserProperty[] = [
  ["b", "1"],
  ["a", "2"],
  ["b", "3"],
  ["10", "x"],
  ["2", "y"],
];

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-props-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const withProperties = (packetId: number): MqttPacket => ({
  cmd: "publish",
  topic: "p/x",
  payload: Buffer.from("héllo"),
  qos: 1,
  packetId,
  dup: false,
  retain: false,
  properties: {
    payloadFormatIndicator: true,
    contentType: "text/plain; charset=utf-8",
    responseTopic: "reply/to/me",
    correlationData: Buffer.from([0, 1, 2, 255]),
  },
  userPropertyList: ORDERED,
});

function assertForwarded(p: MqttPacket): void {
  assert.equal(p.cmd, "publish");
  if (p.cmd !== "publish") return;
  assert.equal(p.payload.toString(), "héllo");
  assert.equal(p.properties?.payloadFormatIndicator, true); // [MQTT-3.3.2-4]
  assert.equal(p.properties?.contentType, "text/plain; charset=utf-8"); // [MQTT-3.3.2-20]
  assert.equal(p.properties?.responseTopic, "reply/to/me"); // [MQTT-3.3.2-15]
  assert.deepEqual(p.properties?.correlationData, Buffer.from([0, 1, 2, 255])); // [MQTT-3.3.2-16]
  assert.deepEqual(p.userPropertyList, ORDERED); // [MQTT-3.3.2-17], [MQTT-3.3.2-18]
}

describe("MQTT 5 properties passed through", () => {
  test("MQTT.js to MQTT.js: every forwarded property arrives unchanged", async (t) => {
    const b = await startTestBroker(t);
    const sub = await client(t, b.v5, { protocolVersion: 5, clientId: "sub" });
    await sub.subscribeAsync("q/#", { qos: 1 });
    const arrived = withTimeout(
      new Promise<IPublishPacket>((resolve) =>
        sub.once("message", (_t, _p, packet) => resolve(packet)),
      ),
      "the message",
    );
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    await pub.publishAsync("q/1", "{}", {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        contentType: "application/json",
        responseTopic: "q/reply",
        correlationData: Buffer.from("id-7"),
        userProperties: { device: "d1", tag: ["x", "y"] },
      },
    });
    const packet = await arrived;
    assert.equal(packet.properties?.payloadFormatIndicator, true);
    assert.equal(packet.properties?.contentType, "application/json");
    assert.equal(packet.properties?.responseTopic, "q/reply");
    assert.deepEqual(packet.properties?.correlationData, Buffer.from("id-7"));
    assert.deepEqual({ ...packet.properties?.userProperties }, { device: "d1", tag: ["x", "y"] });
  });

  test("user properties keep the publisher's order, interleaved names included [MQTT-3.3.2-18]", async (t) => {
    const b = await startTestBroker(t);
    const sub = await RawClient.open(t, b.v5, 5);
    await sub.connect({ clientId: "sub" });
    sub.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "p/#", qos: 1 }] });
    await sub.next((p) => p.cmd === "suback");
    const pub = await RawClient.open(t, b.v5, 5);
    await pub.connect({ clientId: "pub" });
    pub.send(withProperties(1));
    await pub.next((p) => p.cmd === "puback");
    assertForwarded(await sub.next(isPublish));
  });

  test("the properties are stored with the message: an offline session gets them after a restart", async (t) => {
    const dir = await tempDir(t);
    const fields = { clientId: "away", clean: false, properties: { sessionExpiryInterval: 600 } };
    const first = await startTestBroker(t, { dir });
    const sub = await RawClient.open(t, first.v5, 5);
    await sub.connect(fields);
    sub.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "p/#", qos: 1 }] });
    await sub.next((p) => p.cmd === "suback");
    sub.socket.end();
    await sub.waitClosed();
    const pub = await RawClient.open(t, first.v5, 5);
    await pub.connect({ clientId: "pub" });
    pub.send(withProperties(1));
    await pub.next((p) => p.cmd === "puback");
    await first.broker.close();
    const second = await startTestBroker(t, { dir });
    const back = await RawClient.open(t, second.v5, 5);
    await back.connect(fields);
    assertForwarded(await back.next(isPublish));
  });

  test("a will carries its properties, user properties in order", async (t) => {
    const b = await startTestBroker(t);
    const sub = await RawClient.open(t, b.v5, 5);
    await sub.connect({ clientId: "sub" });
    sub.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "w/#", qos: 0 }] });
    await sub.next((p) => p.cmd === "suback");
    const dying = await RawClient.open(t, b.v5, 5);
    await dying.connect({
      clientId: "dying",
      will: {
        topic: "w/dying",
        payload: Buffer.from("gone"),
        qos: 0,
        retain: false,
        properties: { contentType: "text/plain", userProperties: { z: "1", a: "2" } },
      },
    });
    dying.socket.destroy();
    const will = await sub.next(isPublish);
    assert.equal(will.cmd === "publish" && will.properties?.contentType, "text/plain");
    assert.deepEqual(will.userPropertyList, [
      ["z", "1"],
      ["a", "2"],
    ]);
  });

  test("a response topic with a wildcard is a protocol error [MQTT-3.3.2-14]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "rt" });
    raw.send({
      cmd: "publish",
      topic: "a",
      payload: Buffer.from("x"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { responseTopic: "reply/#" },
    });
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
  });

  test("a payload marked UTF-8 that is not gets DISCONNECT 0x99", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "pfi" });
    raw.send({
      cmd: "publish",
      topic: "a",
      payload: Buffer.from([0xff, 0xfe]),
      qos: 0,
      dup: false,
      retain: false,
      properties: { payloadFormatIndicator: true },
    });
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.PayloadFormatInvalid);
  });
});

describe("MQTT 5 problem information", () => {
  for (const requested of [true, false]) {
    test(`an acknowledgement ${requested ? "carries" : "leaves out"} its reason string when Request Problem Information is ${requested ? 1 : 0} [MQTT-3.1.2-29]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.v5, 5);
      await raw.connect({
        clientId: "rpi",
        properties: { requestProblemInformation: requested },
      });
      raw.send({ cmd: "pubrel", packetId: 9 });
      const pubcomp = await raw.next((p) => p.cmd === "pubcomp");
      assert.equal(
        pubcomp.cmd === "pubcomp" && pubcomp.reasonCode,
        ReasonCode.PacketIdentifierNotFound,
      );
      const reason = pubcomp.cmd === "pubcomp" ? pubcomp.properties?.reasonString : undefined;
      assert.equal(typeof reason === "string", requested);
      // DISCONNECT may always carry one.
      raw.send({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 5,
        clean: true,
        clientId: "x",
      });
      const d = await raw.next((p) => p.cmd === "disconnect");
      assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
      assert.equal(d.cmd === "disconnect" && typeof d.properties?.reasonString, "string");
    });
  }
});
