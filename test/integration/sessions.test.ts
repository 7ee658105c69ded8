// Sessions, take-over, client ids, wills, keep-alive and the inflight window,
// over real sockets, for MQTT 3.1.1 and 5.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { ConnackReturnCodeV3, encodePacket, ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const persistentOptions = (version: 4 | 5) =>
  version === 5
    ? { protocolVersion: version, clean: false, properties: { sessionExpiryInterval: 300 } }
    : { protocolVersion: version, clean: false };

for (const version of [4, 5] as const) {
  describe(`sessions, MQTT ${version === 4 ? "3.1.1" : "5"}`, () => {
    test("a persistent session keeps its subscriptions and gets what was published while offline [MQTT-3.2.2-2]", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const first = await client(t, port, { ...persistentOptions(version), clientId: "p" });
      assert.equal(first.connected, true);
      await first.subscribeAsync("off/#", { qos: 1 });
      await first.endAsync();
      const pub = await client(t, port, { protocolVersion: version, clientId: "pub" });
      for (let i = 0; i < 5; i++) await pub.publishAsync("off/x", `m${i}`, { qos: 1 });
      let got: ReturnType<typeof collect> | undefined;
      await client(t, port, { ...persistentOptions(version), clientId: "p" }, (c) => {
        got = collect(c);
      });
      assert.ok(got !== undefined);
      const messages = await got.next(5);
      assert.deepEqual(
        messages.map((m) => m.payload),
        ["m0", "m1", "m2", "m3", "m4"],
      );
    });

    test("the session-present flag is 1 for a resumed session and 0 for a clean one [MQTT-3.2.2-1]", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const raw1 = await RawClient.open(t, port, version);
      const fields =
        version === 5
          ? { clientId: "sp", clean: false, properties: { sessionExpiryInterval: 60 } }
          : { clientId: "sp", clean: false };
      const ack1 = await raw1.connect(fields);
      assert.equal(ack1.cmd === "connack" && ack1.sessionPresent, false);
      raw1.send({ cmd: "disconnect" });
      await raw1.waitClosed();
      const raw2 = await RawClient.open(t, port, version);
      const ack2 = await raw2.connect(fields);
      assert.equal(ack2.cmd === "connack" && ack2.sessionPresent, true);
      raw2.send({ cmd: "disconnect" });
      await raw2.waitClosed();
      const raw3 = await RawClient.open(t, port, version);
      const ack3 = await raw3.connect({ ...fields, clean: true });
      assert.equal(ack3.cmd === "connack" && ack3.sessionPresent, false);
    });

    test("a second connection with the same client id takes the session over [MQTT-3.1.4-2]", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const old = await RawClient.open(t, port, version);
      await old.connect({ clientId: "dup" });
      const fresh = await RawClient.open(t, port, version);
      const ack = await fresh.connect({ clientId: "dup" });
      assert.equal(ack.cmd, "connack");
      if (version === 5) {
        const disconnect = await old.next((p) => p.cmd === "disconnect");
        assert.equal(
          disconnect.cmd === "disconnect" && disconnect.reasonCode,
          ReasonCode.SessionTakenOver,
        );
      }
      await old.waitClosed();
      fresh.send({ cmd: "pingreq" });
      await fresh.next((p) => p.cmd === "pingresp");
    });

    test("the will is published on an ungraceful disconnect, not after DISCONNECT [MQTT-3.1.2-8] [MQTT-3.14.4-3]", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const watcher = await client(t, port, { protocolVersion: version, clientId: "w" });
      const got = collect(watcher);
      await watcher.subscribeAsync("will/#", { qos: 1 });
      const polite = await RawClient.open(t, port, version);
      await polite.connect({
        clientId: "polite",
        will: { topic: "will/polite", payload: Buffer.from("p"), qos: 1, retain: false },
      });
      polite.send({ cmd: "disconnect" });
      await polite.waitClosed();
      const rude = await RawClient.open(t, port, version);
      await rude.connect({
        clientId: "rude",
        will: { topic: "will/rude", payload: Buffer.from("r"), qos: 1, retain: false },
      });
      rude.socket.destroy();
      const [message] = await got.next(1);
      assert.equal(message?.topic, "will/rude");
    });

    test("the will is published when the keep-alive expires (1.5 x) [MQTT-3.1.2-24]", async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const watcher = await client(t, port, { protocolVersion: version, clientId: "w" });
      const got = collect(watcher);
      await watcher.subscribeAsync("ka/#", { qos: 0 });
      const silent = await RawClient.open(t, port, version);
      await silent.connect({
        clientId: "silent",
        keepalive: 1,
        will: { topic: "ka/gone", payload: Buffer.from("x"), qos: 0, retain: false },
      });
      const started = Date.now();
      if (version === 5) {
        const disconnect = await silent.next((p) => p.cmd === "disconnect");
        assert.equal(
          disconnect.cmd === "disconnect" && disconnect.reasonCode,
          ReasonCode.KeepAliveTimeout,
        );
      }
      await silent.waitClosed();
      assert.ok(Date.now() - started >= 1400, "not before 1.5 x the keep-alive");
      const [message] = await got.next(1);
      assert.equal(message?.topic, "ka/gone");
    });

    test("any packet restarts the keep-alive, several in one read too: a client publishing more often than 1.5 x the keep-alive stays connected [MQTT-3.1.2-24]", async (t) => {
      const b = await startTestBroker(t);
      const busy = await RawClient.open(t, b.port(version), version);
      await busy.connect({ clientId: "busy", keepalive: 1 });
      const publish = (id: number) =>
        encodePacket(
          {
            cmd: "publish",
            topic: "ka/busy",
            payload: Buffer.from("x"),
            qos: 1,
            retain: false,
            dup: false,
            packetId: id,
          },
          version,
        );
      let closed = false;
      void busy.closed.then(() => {
        closed = true;
      });
      // 2.4 s of PUBLISHes (two per write) every 400 ms, no PINGREQ: never 1.5 s of silence.
      for (let i = 1; i <= 6; i++) {
        busy.write(Buffer.concat([publish(2 * i - 1), publish(2 * i)]));
        await busy.next((p) => p.cmd === "puback" && p.packetId === 2 * i);
        await delay(400);
      }
      assert.equal(closed, false, "still connected after 2.4 s");
      // Then silence: closed after 1.5 x the keep-alive.
      await busy.waitClosed();
    });

    test("unacknowledged QoS 1/2 messages stop at max_inflight_count and are resent with DUP on reconnect [MQTT-4.4.0-1]", async (t) => {
      const b = await startTestBroker(t, { connections: { maxInflightCount: 2 } });
      const port = b.port(version);
      const fields =
        version === 5
          ? { clientId: "slow", clean: false, properties: { sessionExpiryInterval: 60 } }
          : { clientId: "slow", clean: false };
      const slow = await RawClient.open(t, port, version);
      await slow.connect(fields);
      slow.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "in/#", qos: 2 }] });
      await slow.next((p) => p.cmd === "suback");
      const pub = await client(t, port, { protocolVersion: version, clientId: "pub" });
      await pub.publishAsync("in/1", "a", { qos: 1 });
      await pub.publishAsync("in/2", "b", { qos: 2 });
      await pub.publishAsync("in/3", "c", { qos: 1 });
      const first = await slow.next((p) => p.cmd === "publish");
      const second = await slow.next((p) => p.cmd === "publish");
      assert.deepEqual(
        [first, second].map((p) => p.cmd === "publish" && [p.topic, p.qos, p.dup]),
        [
          ["in/1", 1, false],
          ["in/2", 2, false],
        ],
      );
      // The window is full: the third message waits. A PUBREC frees nothing yet (QoS 2 waits for PUBCOMP).
      const secondId = second.packetId as number;
      slow.send({ cmd: "pubrec", packetId: secondId });
      await slow.next((p) => p.cmd === "pubrel" && p.packetId === secondId);
      assert.equal(slow.packets.filter((p) => p.cmd === "publish").length, 0);
      slow.socket.destroy();
      await slow.waitClosed();

      const back = await RawClient.open(t, port, version);
      const ack = await back.connect(fields);
      assert.equal(ack.cmd === "connack" && ack.sessionPresent, true);
      const resent = await back.next((p) => p.cmd === "publish");
      assert.equal(resent.cmd === "publish" && resent.dup, true);
      assert.equal(resent.packetId, first.packetId);
      // The QoS 2 message already PUBREC'd is resumed with a PUBREL, not a PUBLISH.
      await back.next((p) => p.cmd === "pubrel" && p.packetId === secondId);
      back.send({ cmd: "puback", packetId: first.packetId });
      back.send({ cmd: "pubcomp", packetId: secondId });
      const third = await back.next((p) => p.cmd === "publish");
      assert.deepEqual(third.cmd === "publish" && [third.topic, third.dup], ["in/3", false]);
    });
  });
}

describe("client identifiers", () => {
  test("3.1.1: an empty client id with CleanSession 0 is refused with 0x02 [MQTT-3.1.3-8]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v4, 4);
    // mqtt-packet refuses to encode this CONNECT, so it is written byte by byte:
    // protocol "MQTT" level 4, flags 0 (CleanSession 0), keep-alive 0, client id "".
    raw.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0, 0, 0, 0, 0]));
    const ack = await raw.next((p) => p.cmd === "connack");
    assert.equal(ack.cmd === "connack" && ack.returnCode, ConnackReturnCodeV3.IdentifierRejected);
    await raw.waitClosed();
  });

  test("3.1.1: an empty client id with CleanSession 1 is accepted [MQTT-3.1.3-6]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v4, 4);
    const ack = await raw.connect({ clientId: "", clean: true });
    assert.equal(ack.cmd === "connack" && ack.returnCode, ConnackReturnCodeV3.Accepted);
  });

  test("5: an empty client id gets an assigned client identifier in CONNACK", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    const ack = await raw.connect({ clientId: "" });
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.Success);
    const assigned = ack.cmd === "connack" ? ack.properties?.assignedClientIdentifier : undefined;
    assert.ok(typeof assigned === "string" && assigned.length > 0);
  });

  test("3.1 (MQIsdp) clients are accepted on a v4 listener", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v4, 3);
    const ack = await raw.connect({ clientId: "old-timer" });
    assert.equal(ack.cmd === "connack" && ack.returnCode, ConnackReturnCodeV3.Accepted);
  });
});
