// MQTT over WebSocket details (spec chapter 6): the subprotocol chosen, the
// request path, MQTT packets split over WebSocket messages or packed several
// to one, text frames, messages larger than the listener's limit, plain HTTP
// requests, and an MQTT 3.1 client (subprotocol mqttv3.1) on a listener that
// also serves 3.1.1 and 5. A raw `ws` client sends exactly the frames a test needs.
import assert from "node:assert/strict";
import { once } from "node:events";
import { request } from "node:http";
import { test } from "node:test";
import { WebSocket } from "ws";
import { encodePacket, type MqttPacket, ReasonCode } from "../../src/protocol/index.ts";
import { withTimeout } from "../helpers/broker.ts";
import { connectTo, startTransportBroker } from "../helpers/transports.ts";

const CONNECT: MqttPacket = {
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 5,
  clean: true,
  clientId: "raw-ws",
  keepalive: 0,
};

/** A raw WebSocket client; resolves once open (or rejects with the HTTP status of a refusal). */
async function open(url: string, protocols: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  ws.on("error", () => undefined);
  return withTimeout(
    new Promise<WebSocket>((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_req, res) =>
        reject(Object.assign(new Error("refused"), { status: res.statusCode })),
      );
    }),
    "the WebSocket handshake",
  );
}

/** Collects the bytes a raw client receives. */
function received(ws: WebSocket): { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  ws.on("message", (data: Buffer) => chunks.push(data));
  return { bytes: () => Buffer.concat(chunks) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    what,
  );
}

test("subprotocol mqtt is chosen when offered [MQTT-6.0.0-3] [MQTT-6.0.0-4], on any path", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const ws = await open(`${b.url(5)}/any/path?x=1`, ["foo", "mqtt"]);
  t.after(() => ws.terminate());
  assert.equal(ws.protocol, "mqtt");
});

test("subprotocol mqttv3.1 is chosen for MQTT 3.1 clients, and none offered is accepted", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const old = await open(b.url(4), ["mqttv3.1"]);
  t.after(() => old.terminate());
  assert.equal(old.protocol, "mqttv3.1");
  const plain = await open(b.url(4), []);
  t.after(() => plain.terminate());
  assert.equal(plain.protocol, "");
});

test("a handshake offering only unknown subprotocols is refused with HTTP 400", async (t) => {
  const b = await startTransportBroker(t, "ws");
  await assert.rejects(open(b.url(4), ["stomp", "wamp"]), { status: 400 });
});

test("a plain HTTP request gets 426 Upgrade Required", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const req = request(b.url(4).replace("ws:", "http:"));
  req.end();
  const [res] = (await withTimeout(once(req, "response"), "the HTTP response")) as [
    { statusCode: number; resume(): void },
  ];
  res.resume();
  assert.equal(res.statusCode, 426);
});

test("one packet split over several messages, and several packets in one message, are both read [MQTT-6.0.0-2]", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const ws = await open(b.url(5), ["mqtt"]);
  t.after(() => ws.terminate());
  const got = received(ws);
  const connect = encodePacket(CONNECT, 5);
  for (let i = 0; i < connect.length; i += 3) ws.send(connect.subarray(i, i + 3));
  const subscribe = encodePacket(
    { cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "ws/split", qos: 0 }] },
    5,
  );
  const publish = encodePacket(
    {
      cmd: "publish",
      topic: "ws/split",
      payload: Buffer.from("joined"),
      qos: 0,
      dup: false,
      retain: false,
    },
    5,
  );
  ws.send(Buffer.concat([subscribe, publish]));
  await until(() => got.bytes().includes(Buffer.from("joined")), "the message back");
  assert.equal(got.bytes()[0], 0x20, "CONNACK first");
});

test("a text frame closes the connection [MQTT-6.0.0-1]", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const ws = await open(b.url(5), ["mqtt"]);
  t.after(() => ws.terminate());
  const closed = once(ws, "close");
  ws.send(encodePacket(CONNECT, 5).toString("latin1"));
  await withTimeout(closed, "the close");
});

test("a message larger than max_payload_size allows closes the connection (1009)", async (t) => {
  const b = await startTransportBroker(t, "ws", { connections: { maxPayloadSize: 1024 } });
  const ws = await open(b.url(5), ["mqtt"]);
  t.after(() => ws.terminate());
  const closed = once(ws, "close");
  ws.send(Buffer.alloc(1024 + 256 * 1024));
  const [code] = (await withTimeout(closed, "the close")) as [number];
  assert.equal(code, 1009);
});

test("an MQTT 3.1 client (MQIsdp, subprotocol mqttv3.1) is served beside 3.1.1 and 5 clients", async (t) => {
  const b = await startTransportBroker(t, "ws");
  const old = await connectTo(t, b.url(4), {
    protocolId: "MQIsdp",
    protocolVersion: 3,
    clientId: "v31",
  });
  const v5 = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "v5" });
  const got = new Promise<string>((resolve) => v5.once("message", (_t, p) => resolve(String(p))));
  await v5.subscribeAsync("mixed", { qos: 1 });
  await old.publishAsync("mixed", "from 3.1", { qos: 1 });
  assert.equal(await withTimeout(got, "the message"), "from 3.1");
});

test("a v5 CONNECT with a bad password on a WebSocket listener gets CONNACK 0x86", async (t) => {
  const b = await startTransportBroker(t, "ws", { connections: { auth: { u: "p" } } });
  const ws = await open(b.url(5), ["mqtt"]);
  t.after(() => ws.terminate());
  const got = received(ws);
  ws.send(encodePacket({ ...CONNECT, username: "u", password: Buffer.from("x") } as MqttPacket, 5));
  await until(() => got.bytes().length >= 4, "CONNACK");
  assert.equal(got.bytes()[3], ReasonCode.BadUserNameOrPassword);
});
