// Per-listener limits, authentication, the connection limit, protocol
// versions and protocol violations, over real sockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConnackReturnCodeV3, ReasonCode } from "../../src/protocol/index.ts";
import { RawClient, startTestBroker } from "../helpers/broker.ts";

describe("protocol versions", () => {
  test("3.1.1: a v5 CONNECT on a v4 listener is refused as an unsupported protocol version [MQTT-3.1.2-2]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v4, 5);
    const ack = await raw.connect();
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.UnsupportedProtocolVersion);
    await raw.waitClosed();
  });

  test("5: a 3.1.1 CONNECT on a v5 listener gets return code 0x01 in a 3.1.1 CONNACK [MQTT-3.1.2-2]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 4);
    const ack = await raw.connect();
    assert.equal(
      ack.cmd === "connack" && ack.returnCode,
      ConnackReturnCodeV3.UnacceptableProtocolVersion,
    );
    await raw.waitClosed();
  });
});

describe("listener limits", () => {
  test("no CONNECT within connection_timeout_ms: the connection is closed", async (t) => {
    const b = await startTestBroker(t, { connections: { connectionTimeoutMs: 100 } });
    const raw = await RawClient.open(t, b.v4, 4);
    await raw.waitClosed();
  });

  test("router.max_connections counts the connections of every listener together", async (t) => {
    const b = await startTestBroker(t, { maxConnections: 1 });
    const onV4 = await RawClient.open(t, b.v4, 4);
    await onV4.connect({ clientId: "on-v4" });
    const onV5 = await RawClient.open(t, b.v5, 5);
    const ack = await onV5.connect({ clientId: "on-v5" });
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.QuotaExceeded);
  });

  for (const version of [4, 5] as const) {
    test(`MQTT ${version}: a payload over max_payload_size closes the connection${version === 5 ? " with DISCONNECT 0x95" : ""}`, async (t) => {
      const b = await startTestBroker(t, { connections: { maxPayloadSize: 100 } });
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect();
      raw.send({
        cmd: "publish",
        topic: "big",
        payload: Buffer.alloc(101),
        qos: 1,
        packetId: 1,
        dup: false,
        retain: false,
      });
      if (version === 5) {
        const d = await raw.next((p) => p.cmd === "disconnect");
        assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.PacketTooLarge);
      }
      await raw.waitClosed();
    });

    test(`MQTT ${version}: a client id over max_client_id_len is refused`, async (t) => {
      const b = await startTestBroker(t, { connections: { maxClientIdLen: 5 } });
      const raw = await RawClient.open(t, b.port(version), version);
      const ack = await raw.connect({ clientId: "toolong" });
      if (version === 5) {
        assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.ClientIdentifierNotValid);
      } else {
        assert.equal(
          ack.cmd === "connack" && ack.returnCode,
          ConnackReturnCodeV3.IdentifierRejected,
        );
      }
      await raw.waitClosed();
    });

    test(`MQTT ${version}: with an auth table, anonymous and wrong passwords are refused, the right one accepted`, async (t) => {
      const b = await startTestBroker(t, { connections: { auth: { user1: "p@ssw0rd" } } });
      const port = b.port(version);
      const anonymous = await (await RawClient.open(t, port, version)).connect({ clientId: "a" });
      const wrong = await (await RawClient.open(t, port, version)).connect({
        clientId: "b",
        username: "user1",
        password: Buffer.from("nope"),
      });
      const right = await (await RawClient.open(t, port, version)).connect({
        clientId: "c",
        username: "user1",
        password: Buffer.from("p@ssw0rd"),
      });
      const code = (p: typeof right) =>
        p.cmd === "connack" ? (version === 5 ? p.reasonCode : p.returnCode) : undefined;
      if (version === 5) {
        assert.equal(code(anonymous), ReasonCode.NotAuthorized);
        assert.equal(code(wrong), ReasonCode.BadUserNameOrPassword);
        assert.equal(code(right), ReasonCode.Success);
      } else {
        assert.equal(code(anonymous), ConnackReturnCodeV3.NotAuthorized);
        assert.equal(code(wrong), ConnackReturnCodeV3.BadUserNameOrPassword);
        assert.equal(code(right), ConnackReturnCodeV3.Accepted);
      }
    });

    test(`MQTT ${version}: connections over router.max_connections are refused`, async (t) => {
      const b = await startTestBroker(t, { maxConnections: 1 });
      const port = b.port(version);
      const first = await RawClient.open(t, port, version);
      await first.connect({ clientId: "one" });
      const second = await RawClient.open(t, port, version);
      const ack = await second.connect({ clientId: "two" });
      if (version === 5) {
        assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.QuotaExceeded);
      } else {
        assert.equal(
          ack.cmd === "connack" && ack.returnCode,
          ConnackReturnCodeV3.ServerUnavailable,
        );
      }
      first.send({ cmd: "disconnect" });
      await first.waitClosed();
      const third = await RawClient.open(t, port, version);
      const ack3 = await third.connect({ clientId: "three" });
      assert.equal(ack3.cmd === "connack" && (ack3.reasonCode ?? ack3.returnCode), 0);
    });
  }
});

describe("protocol violations", () => {
  for (const version of [4, 5] as const) {
    test(`MQTT ${version}: a packet before CONNECT closes the connection [MQTT-3.1.0-1]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      raw.send({ cmd: "pingreq" });
      if (version === 5) {
        // No DISCONNECT may precede CONNACK [MQTT-3.14.0-1]: the answer is a CONNACK 0x82.
        const ack = await raw.next((p) => p.cmd === "connack");
        assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.ProtocolError);
      }
      await raw.waitClosed();
    });

    test(`MQTT ${version}: a second CONNECT is a protocol error [MQTT-3.1.0-2]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "twice" });
      raw.send({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: version,
        clean: true,
        clientId: "twice",
        keepalive: 0,
      });
      if (version === 5) {
        const d = await raw.next((p) => p.cmd === "disconnect");
        assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
      }
      await raw.waitClosed();
    });

    test(`MQTT ${version}: a malformed packet closes only that connection; others are served`, async (t) => {
      const b = await startTestBroker(t);
      const port = b.port(version);
      const bystander = await RawClient.open(t, port, version);
      await bystander.connect({ clientId: "bystander" });
      const raw = await RawClient.open(t, port, version);
      await raw.connect({ clientId: "bad" });
      // A SUBSCRIBE with reserved flag bits 0000 instead of 0010 [MQTT-3.8.1-1].
      raw.write(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]));
      if (version === 5) {
        const d = await raw.next((p) => p.cmd === "disconnect");
        assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.MalformedPacket);
      }
      await raw.waitClosed();
      bystander.send({ cmd: "pingreq" });
      await bystander.next((p) => p.cmd === "pingresp");
    });

    test(`MQTT ${version}: a QoS 1 PUBLISH or a SUBSCRIBE with packet id 0 is a protocol error [MQTT-2.3.1-1]`, async (t) => {
      const b = await startTestBroker(t);
      for (const packet of [
        {
          cmd: "publish" as const,
          topic: "z",
          payload: Buffer.from("x"),
          qos: 1 as const,
          packetId: 0,
          dup: false,
          retain: false,
        },
        {
          cmd: "subscribe" as const,
          packetId: 0,
          subscriptions: [{ topic: "z", qos: 0 as const }],
        },
      ]) {
        const raw = await RawClient.open(t, b.port(version), version);
        await raw.connect({ clientId: "zero" });
        raw.send(packet);
        if (version === 5) {
          const d = await raw.next((p) => p.cmd === "disconnect");
          assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
        }
        await raw.waitClosed();
      }
    });

    test(`MQTT ${version}: a PUBLISH to a topic with a wildcard is refused [MQTT-3.3.2-2]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "wild" });
      raw.send({
        cmd: "publish",
        topic: "a/+",
        payload: Buffer.from("x"),
        qos: 0,
        dup: false,
        retain: false,
      });
      if (version === 5) {
        const d = await raw.next((p) => p.cmd === "disconnect");
        assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.TopicNameInvalid);
      }
      await raw.waitClosed();
    });

    test(`MQTT ${version}: a SUBSCRIBE with an invalid filter gets a failure code for that filter only`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "subs" });
      raw.send({
        cmd: "subscribe",
        packetId: 9,
        subscriptions: [
          { topic: "ok/#", qos: 1 },
          { topic: "bad/#/x", qos: 1 },
        ],
      });
      const suback = await raw.next((p) => p.cmd === "suback");
      assert.equal(suback.packetId, 9);
      const failure = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual(suback.cmd === "suback" && suback.granted, [1, failure]);
    });
  }
});
