// What an MQTT 5 CONNACK tells the client about the server, and the
// DISCONNECT the server sends when it stops, over real sockets.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
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

/** Opens a raw MQTT 5 connection that counts the bytes the broker sends. */
async function countingClient(t: TestContext, port: number) {
  const raw = await RawClient.open(t, port, 5);
  let bytes = 0;
  raw.socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  return { raw, received: () => bytes };
}

test("a CONNACK too large for the client's Maximum Packet Size leaves out the properties that say what their absence says, and still fits, with the assigned client id [MQTT-3.1.2-24]", async (t) => {
  const b = await startTestBroker(t);
  const { raw, received } = await countingClient(t, b.v5);
  // The whole CONNACK with an assigned id is 68 bytes; without the defaults, 57.
  const ack = await raw.connect({
    clientId: "",
    keepalive: 60,
    properties: { maximumPacketSize: 60 },
  });
  assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.Success);
  if (ack.cmd !== "connack") return;
  const p = ack.properties ?? {};
  assert.ok(received() <= 60, `CONNACK of ${received()} bytes`);
  assert.match(String(p.assignedClientIdentifier), /^auto-/);
  assert.equal(p.receiveMaximum, 100);
  assert.ok((p.maximumPacketSize ?? 0) > 20480);
  // Absent means available (spec 3.2.2.3): leaving them out changes nothing.
  assert.equal(p.retainAvailable, undefined);
  assert.equal(p.wildcardSubscriptionAvailable, undefined);
  assert.equal(p.subscriptionIdentifiersAvailable, undefined);
  assert.equal(p.sharedSubscriptionAvailable, undefined);
  // The connection works: a subscription is acknowledged.
  raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0 }] });
  assert.equal((await raw.next((x) => x.cmd === "suback")).cmd, "suback");
});

test("a CONNACK that fits is sent whole", async (t) => {
  const b = await startTestBroker(t);
  const raw = await RawClient.open(t, b.v5, 5);
  const ack = await raw.connect({
    clientId: "",
    keepalive: 60,
    properties: { maximumPacketSize: 68 },
  });
  assert.equal(ack.cmd === "connack" && ack.properties?.retainAvailable, true);
});

test("when no CONNACK fits the client's Maximum Packet Size, the connection is closed without one, and neither the session nor the connection slot is kept [MQTT-3.1.2-24]", async (t) => {
  const b = await startTestBroker(t, { maxConnections: 1 });
  const { raw, received } = await countingClient(t, b.v5);
  raw.send({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: true,
    clientId: "tiny",
    keepalive: 60,
    properties: { maximumPacketSize: 10, sessionExpiryInterval: 600 },
  });
  await raw.waitClosed();
  assert.equal(received(), 0, "nothing was sent");
  // The slot was released (max_connections = 1) and no session was made for "tiny".
  const again = await RawClient.open(t, b.v5, 5);
  const ack = await again.connect({ clientId: "tiny", clean: false, keepalive: 60 });
  assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.Success);
  assert.equal(ack.cmd === "connack" && ack.sessionPresent, false);
});

test("a refusal's CONNACK leaves out its reason string to fit the client's Maximum Packet Size [MQTT-3.1.2-24]", async (t) => {
  const b = await startTestBroker(t, { connections: { auth: { dev: "right" } } });
  const whole = await (await RawClient.open(t, b.v5, 5)).connect({
    clientId: "w1",
    username: "dev",
    password: Buffer.from("wrong"),
  });
  assert.equal(whole.cmd === "connack" && whole.reasonCode, ReasonCode.BadUserNameOrPassword);
  assert.equal(typeof (whole.cmd === "connack" && whole.properties?.reasonString), "string");
  const { raw, received } = await countingClient(t, b.v5);
  const small = await raw.connect({
    clientId: "w2",
    username: "dev",
    password: Buffer.from("wrong"),
    properties: { maximumPacketSize: 10 },
  });
  assert.equal(small.cmd === "connack" && small.reasonCode, ReasonCode.BadUserNameOrPassword);
  assert.equal(small.cmd === "connack" && small.properties?.reasonString, undefined);
  assert.ok(received() <= 10, `CONNACK of ${received()} bytes`);
});
