// What an MQTT 5 CONNACK tells the client about the server, and the
// DISCONNECT the server sends when it stops, over real sockets.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { IDisconnectPacket } from "mqtt";
import { ReasonCode } from "../../src/protocol/index.ts";
import { client, RawClient, startTestBroker, withTimeout } from "../helpers/broker.ts";

test("CONNACK advertises retain, wildcards, topic alias maximum, receive maximum and maximum packet size, not Maximum QoS", async (t) => {
  const b = await startTestBroker(t, {
    connections: { topicAliasMax: 12, receiveMaximum: 34, maxPayloadSize: 1000 },
  });
  const raw = await RawClient.open(t, b.v5, 5);
  const ack = await raw.connect({ clientId: "caps", keepalive: 60 });
  assert.equal(ack.cmd, "connack");
  if (ack.cmd !== "connack") return;
  const p = ack.properties ?? {};
  assert.equal(p.retainAvailable, true);
  assert.equal(p.wildcardSubscriptionAvailable, true);
  assert.equal(p.topicAliasMaximum, 12);
  assert.equal(p.receiveMaximum, 34);
  assert.ok((p.maximumPacketSize ?? 0) > 1000);
  // Absent means QoS 2; the value 2 may not be sent (spec 3.2.2.3.4).
  assert.equal(p.maximumQoS, undefined);
  assert.equal(typeof p.subscriptionIdentifiersAvailable, "boolean");
  assert.equal(typeof p.sharedSubscriptionAvailable, "boolean");
  assert.equal(p.serverKeepAlive, undefined, "60 is within max_keep_alive");
});

test("a client asking for keep-alive 0 gets Server Keep Alive = max_keep_alive", async (t) => {
  const b = await startTestBroker(t, { connections: { maxKeepAliveSec: 45 } });
  const raw = await RawClient.open(t, b.v5, 5);
  const ack = await raw.connect({ clientId: "ka0", keepalive: 0 });
  assert.equal(ack.cmd === "connack" && ack.properties?.serverKeepAlive, 45);
});

test("a broker that stops sends MQTT 5 clients DISCONNECT 0x8B (server shutting down)", async (t) => {
  const b = await startTestBroker(t);
  const c = await client(t, b.v5, { protocolVersion: 5, clientId: "stays" });
  const disconnected = withTimeout(
    new Promise<IDisconnectPacket>((resolve) => c.once("disconnect", resolve)),
    "DISCONNECT",
  );
  await b.broker.close();
  const packet = await disconnected;
  assert.equal(packet.reasonCode, ReasonCode.ServerShuttingDown);
});
