// Fan-out with one shared encoding per message: subscribers on MQTT 3.1.1
// and 5, at QoS 0, 1 and 2, one of them using topic aliases (its PUBLISH is
// encoded on its own), all get every message intact, with their own packet
// ids, the publisher's properties (v5), and DUP only on a resend.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { IPublishPacket } from "mqtt";
import { client, RawClient, startTestBroker, withTimeout } from "../helpers/broker.ts";

interface Got {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  contentType: string | undefined;
  packetId: number | undefined;
}

describe("fan-out with a shared encoding", () => {
  test("every subscriber, whatever its version, QoS or topic aliases, gets each message intact", async (t) => {
    const b = await startTestBroker(t, { connections: { topicAliasMax: 10 } });
    const variants = [
      { version: 4, qos: 0 },
      { version: 4, qos: 1 },
      { version: 4, qos: 2 },
      { version: 5, qos: 0 },
      { version: 5, qos: 1 },
      { version: 5, qos: 2 },
      { version: 5, qos: 1, topicAliasMaximum: 5 },
    ] as const;
    const count = 50;
    const received = await Promise.all(
      variants.map(async (v, i) => {
        const sub = await client(t, b.port(v.version), {
          protocolVersion: v.version,
          clientId: `sub-${i}`,
          ...("topicAliasMaximum" in v
            ? { properties: { topicAliasMaximum: v.topicAliasMaximum } }
            : {}),
        });
        const got: Got[] = [];
        const all = new Promise<Got[]>((resolve) => {
          sub.on("message", (topic, payload, packet: IPublishPacket) => {
            got.push({
              topic,
              payload: payload.toString(),
              qos: packet.qos,
              retain: packet.retain,
              dup: packet.dup,
              contentType: packet.properties?.contentType,
              packetId: packet.messageId,
            });
            if (got.length === count) resolve(got);
          });
        });
        await sub.subscribeAsync("fan/#", { qos: v.qos });
        return { v, all };
      }),
    );
    const pub = await client(t, b.v5, { protocolVersion: 5, clientId: "pub" });
    for (let i = 0; i < count; i++) {
      await pub.publishAsync(`fan/${i % 3}`, `m${i}`, {
        qos: 2,
        properties: i % 2 === 0 ? { contentType: "text/plain" } : {},
      });
    }
    for (const { v, all } of received) {
      const got = await withTimeout(all, `${count} messages for ${JSON.stringify(v)}`);
      assert.deepEqual(
        got.map((g) => [g.topic, g.payload, g.qos, g.retain, g.dup]),
        Array.from({ length: count }, (_, i) => [`fan/${i % 3}`, `m${i}`, v.qos, false, false]),
        JSON.stringify(v),
      );
      if (v.version === 5) {
        assert.deepEqual(
          got.map((g) => g.contentType),
          Array.from({ length: count }, (_, i) => (i % 2 === 0 ? "text/plain" : undefined)),
        );
      }
      if (v.qos > 0) {
        const ids = got.map((g) => g.packetId);
        assert.ok(ids.every((id) => id !== undefined && id > 0));
      }
    }
  });

  test("a message resent after a reconnect carries DUP and the same packet id [MQTT-4.4.0-1]", async (t) => {
    const b = await startTestBroker(t);
    // A raw subscriber that never acknowledges, so that its message stays in flight.
    const raw = await RawClient.open(t, b.v4, 4);
    await raw.connect({ clientId: "slow", clean: false });
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "dup/t", qos: 1 }] });
    await raw.next((p) => p.cmd === "suback");
    const other = await client(t, b.v4, { clientId: "fast" });
    const fastGot = new Promise<IPublishPacket>((resolve) =>
      other.once("message", (_topic, _payload, packet) => resolve(packet)),
    );
    await other.subscribeAsync("dup/t", { qos: 1 });
    const pub = await client(t, b.v4, { clientId: "pub" });
    await pub.publishAsync("dup/t", "once", { qos: 1 });
    const first = await raw.next((p) => p.cmd === "publish");
    assert.equal((await withTimeout(fastGot, "the other subscriber's copy")).dup, false);
    assert.ok(first.cmd === "publish");
    assert.equal(first.dup, false);
    raw.socket.destroy();
    await raw.closed;
    const again = await RawClient.open(t, b.v4, 4);
    await again.connect({ clientId: "slow", clean: false });
    const resent = await again.next((p) => p.cmd === "publish");
    assert.ok(resent.cmd === "publish");
    assert.equal(resent.dup, true);
    assert.equal(resent.packetId, first.packetId);
    assert.equal(resent.payload.toString(), "once");
  });
});
