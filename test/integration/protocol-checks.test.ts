// Acknowledgement order and the input checks the spec requires of a server,
// over real sockets with hand-made bytes where a client library would refuse
// to send them. For 3.1.1 a violation closes the connection without an
// answer; MQTT 5 gets DISCONNECT (or CONNACK) with the matching reason code.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodePacket, type MqttPacket, ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

function str(text: string | Buffer): Buffer {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** A packet from its first byte and body (remaining length under 128). */
function packet(first: number, ...body: Buffer[]): Buffer {
  const rest = Buffer.concat(body);
  assert.ok(rest.length < 128);
  return Buffer.concat([Buffer.from([first, rest.length]), rest]);
}

const props = (version: 4 | 5) => (version === 5 ? Buffer.from([0]) : Buffer.alloc(0));

function connectBytes(version: 4 | 5, flags: number, ...payload: Buffer[]): Buffer {
  return packet(
    0x10,
    str("MQTT"),
    Buffer.from([version, flags, 0, 0]),
    props(version),
    str("checks"),
    ...payload,
  );
}

async function expectRefused(raw: RawClient, version: 4 | 5, reasonCode: number): Promise<void> {
  if (version === 5) {
    const answer = await raw.next((p) => p.cmd === "disconnect" || p.cmd === "connack");
    assert.equal((answer as { reasonCode?: number }).reasonCode, reasonCode);
  }
  await raw.waitClosed();
  if (version === 4) {
    assert.deepEqual(
      raw.packets.filter((p: MqttPacket) => p.cmd !== "connack"),
      [],
      "3.1.1 gets no answer",
    );
  }
}

for (const version of [4, 5] as const) {
  describe(`acknowledgement order and input checks, MQTT ${version === 4 ? "3.1.1" : "5"}`, () => {
    test("PUBACKs go out in the order of the PUBLISHes, retained ones among them [MQTT-4.6.0-2]", async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "order" });
      const bytes = [];
      for (let id = 1; id <= 8; id += 1) {
        const publish = {
          cmd: "publish" as const,
          topic: `order/${id}`,
          payload: Buffer.from("x"),
          qos: 1 as const,
          packetId: id,
          dup: false,
          retain: id % 3 === 1,
        };
        bytes.push(encodePacket(publish, version));
      }
      raw.write(Buffer.concat(bytes)); // one write: all eight are in flight together
      const acks = [];
      for (let i = 0; i < 8; i += 1) acks.push(await raw.next((p) => p.cmd === "puback"));
      assert.deepEqual(
        acks.map((p) => p.packetId),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
    });

    test("PUBRECs go out in the order of the PUBLISHes, retained ones among them [MQTT-4.6.0-3]", async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "order2" });
      const bytes = [];
      for (let id = 1; id <= 6; id += 1) {
        bytes.push(
          encodePacket(
            {
              cmd: "publish",
              topic: `order2/${id}`,
              payload: Buffer.from("x"),
              qos: 2,
              packetId: id,
              dup: false,
              retain: id % 2 === 0,
            },
            version,
          ),
        );
      }
      raw.write(Buffer.concat(bytes));
      const recs = [];
      for (let i = 0; i < 6; i += 1) recs.push(await raw.next((p) => p.cmd === "pubrec"));
      assert.deepEqual(
        recs.map((p) => p.packetId),
        [1, 2, 3, 4, 5, 6],
      );
    });

    test("a topic that is not valid UTF-8 closes the connection and is never stored [MQTT-1.5.3-1]", async (t) => {
      const b = await startTestBroker(t);
      const sub = await client(t, b.port(version), { protocolVersion: version, clientId: "s" });
      const got = collect(sub);
      await sub.subscribeAsync("#", { qos: 1 });
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "utf8" });
      const topic = Buffer.from([0x61, 0x2f, 0xff, 0xfe, 0xc0, 0x80]);
      raw.write(packet(0x32, str(topic), Buffer.from([0, 1]), props(version), Buffer.from("x")));
      await expectRefused(raw, version, ReasonCode.MalformedPacket);
      assert.equal(raw.packets.filter((p) => p.cmd === "puback").length, 0, "never acknowledged");
      // A valid message published after it arrives alone: nothing was stored before it.
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "p" });
      await pub.publishAsync("ok/after", "fine", { qos: 1 });
      const [first] = await got.next(1);
      assert.equal(first?.topic, "ok/after");
    });

    test("after valid topics of the same length, an ill-formed UTF-8 topic or a wildcard in PUBLISH still closes the connection [MQTT-1.5.3-1] [MQTT-3.3.2-2]", async (t) => {
      // The decoder remembers the last topic (fast-path.ts): bytes that differ from it are
      // checked again, whatever it was.
      const b = await startTestBroker(t);
      const bad = [
        {
          topic: Buffer.from([0x61, 0x2f, 0xff, 0xfe, 0xc0, 0x80]),
          code: ReasonCode.MalformedPacket,
        },
        { topic: Buffer.from("a/+/cd"), code: ReasonCode.TopicNameInvalid },
      ];
      for (const [i, { topic, code }] of bad.entries()) {
        const raw = await RawClient.open(t, b.port(version), version);
        await raw.connect({ clientId: `memo-${i}` });
        const good = (id: number) =>
          packet(0x32, str("a/b/cd"), Buffer.from([0, id]), props(version), Buffer.from("x"));
        raw.write(Buffer.concat([good(1), good(2)]));
        for (const id of [1, 2]) await raw.next((p) => p.cmd === "puback" && p.packetId === id);
        raw.write(packet(0x32, str(topic), Buffer.from([0, 3]), props(version), Buffer.alloc(0)));
        if (version === 5) {
          const answer = await raw.next((p) => p.cmd === "disconnect");
          assert.equal((answer as { reasonCode?: number }).reasonCode, code);
        }
        await raw.waitClosed();
        const acked = raw.packets.filter((p) => p.cmd === "puback").map((p) => p.packetId);
        assert.ok(!acked.includes(3), "the bad PUBLISH is never acknowledged");
      }
    });

    test("a will of QoS 3 is refused [MQTT-3.1.2-14]", async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      // Clean session + will flag + will QoS 3.
      raw.write(connectBytes(version, 0x1e, props(version), str("will/t"), str("bye")));
      await expectRefused(raw, version, ReasonCode.MalformedPacket);
    });

    test("a QoS 0 PUBLISH with DUP set is refused [MQTT-3.3.1-2]", async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "dup0" });
      raw.write(packet(0x38, str("a/b"), props(version), Buffer.from("x")));
      await expectRefused(raw, version, ReasonCode.MalformedPacket);
    });

    test("SUBSCRIBE and UNSUBSCRIBE without a filter are protocol errors [MQTT-3.8.3-3] [MQTT-3.10.3-2]", async (t) => {
      const b = await startTestBroker(t);
      for (const first of [0x82, 0xa2]) {
        const raw = await RawClient.open(t, b.port(version), version);
        await raw.connect({ clientId: `empty-${first}` });
        raw.write(packet(first, Buffer.from([0, 7]), props(version)));
        await expectRefused(raw, version, ReasonCode.ProtocolError);
      }
    });
  });
}

test("3.1.1: a CONNECT with a password but no user name closes the connection [MQTT-3.1.2-22]", async (t) => {
  const b = await startTestBroker(t);
  const raw = await RawClient.open(t, b.v4, 4);
  raw.write(connectBytes(4, 0x42, str("secret")));
  await raw.waitClosed();
  assert.deepEqual(raw.packets, [], "no CONNACK");
});

test("MQTT 5: a CONNECT asking for an authentication method the broker lacks gets CONNACK 0x8C [MQTT-4.12.0-1]", async (t) => {
  const b = await startTestBroker(t);
  const raw = await RawClient.open(t, b.v5, 5);
  const ack = await raw.connect({
    clientId: "scram",
    properties: { authenticationMethod: "NO-SUCH-METHOD" },
  });
  assert.equal((ack as { reasonCode?: number }).reasonCode, ReasonCode.BadAuthenticationMethod);
  await raw.waitClosed();
});
