// MQTT 5 enhanced authentication over real sockets: SCRAM-SHA-256 against
// the listener's `auth` table (plain passwords and `$scram-sha-256$`
// entries), with MQTT.js and with raw packets; refusals (0x86, 0x8C, 0x82);
// re-authentication with AUTH 0x19; and no secret in the log.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import mqtt, { type IConnackPacket } from "mqtt";
import { startBroker } from "../../src/broker.ts";
import { createLogger } from "../../src/log.ts";
import { type AuthPacket, type MqttPacket, ReasonCode } from "../../src/protocol/index.ts";
import { formatScramEntry } from "../../src/server/scram-credential.ts";
import {
  RawClient,
  SAFETY_TIMEOUT_MS,
  startTestBroker,
  testConfig,
  withTimeout,
} from "../helpers/broker.ts";
import { ScramClient } from "../helpers/scram-client.ts";

const METHOD = "SCRAM-SHA-256";
const AUTH_TABLE = { dev: "pencil", stored: formatScramEntry("s3cret", 4096) };

const authData = (p: MqttPacket) =>
  (p as { properties?: { authenticationData?: Buffer } }).properties?.authenticationData;
const authMethod = (p: MqttPacket) =>
  (p as { properties?: { authenticationMethod?: string } }).properties?.authenticationMethod;

/** CONNECT with SCRAM's first message, answer the challenge; resolves with the CONNACK. */
async function scramConnect(
  raw: RawClient,
  scram: ScramClient,
  password?: string,
): Promise<MqttPacket> {
  raw.send({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: true,
    clientId: `c-${scram.user}`,
    keepalive: 0,
    properties: { authenticationMethod: METHOD, authenticationData: scram.first() },
  });
  const challenge = await raw.next((p) => p.cmd === "auth" || p.cmd === "connack");
  if (challenge.cmd === "connack") return challenge;
  assert.equal(challenge.cmd === "auth" && challenge.reasonCode, ReasonCode.ContinueAuthentication);
  assert.equal(authMethod(challenge), METHOD, "[MQTT-4.12.0-5] the same method");
  raw.send({
    cmd: "auth",
    reasonCode: ReasonCode.ContinueAuthentication,
    properties: {
      authenticationMethod: METHOD,
      authenticationData: scram.final(authData(challenge), password),
    },
  });
  return raw.next((p) => p.cmd === "connack");
}

/** A re-authentication round on a connected raw client; resolves with the broker's last packet. */
async function reauthenticate(
  raw: RawClient,
  scram: ScramClient,
  method = METHOD,
): Promise<MqttPacket> {
  raw.send({
    cmd: "auth",
    reasonCode: ReasonCode.ReAuthenticate,
    properties: { authenticationMethod: method, authenticationData: scram.first() },
  });
  const challenge = await raw.next((p) => p.cmd === "auth" || p.cmd === "disconnect");
  if (challenge.cmd === "disconnect") return challenge;
  raw.send({
    cmd: "auth",
    reasonCode: ReasonCode.ContinueAuthentication,
    properties: {
      authenticationMethod: METHOD,
      authenticationData: scram.final(authData(challenge)),
    },
  });
  return raw.next((p) => p.cmd === "auth" || p.cmd === "disconnect");
}

describe("MQTT 5 enhanced authentication: SCRAM-SHA-256", () => {
  test("MQTT.js authenticates with SCRAM against a plain password and checks the server's signature in CONNACK", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const scram = new ScramClient("dev", "pencil");
    const c = mqtt.connect(`mqtt://127.0.0.1:${b.v5}`, {
      protocolVersion: 5,
      clientId: "mqttjs-scram",
      reconnectPeriod: 0,
      connectTimeout: SAFETY_TIMEOUT_MS,
      properties: { authenticationMethod: METHOD, authenticationData: scram.first() },
    });
    t.after(() => c.end(true));
    c.handleAuth = (packet, callback) => {
      callback(undefined, {
        cmd: "auth",
        reasonCode: ReasonCode.ContinueAuthentication,
        properties: {
          authenticationMethod: METHOD,
          authenticationData: scram.final(packet.properties?.authenticationData),
        },
      });
    };
    const connack = await withTimeout(
      new Promise<IConnackPacket>((resolve) => c.once("connect", resolve)),
      "CONNACK",
    );
    assert.equal(connack.reasonCode, ReasonCode.Success);
    assert.equal(connack.properties?.authenticationMethod, METHOD);
    assert.ok(
      scram.verifyServer(connack.properties?.authenticationData),
      "server-final proves the broker",
    );
    await c.subscribeAsync("after/auth", { qos: 1 });
  });

  test("a $scram-sha-256$ entry (rumqttd-passwd --scram) authenticates too", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const scram = new ScramClient("stored", "s3cret");
    const connack = await scramConnect(await RawClient.open(t, b.v5, 5), scram);
    assert.equal(connack.cmd === "connack" && connack.reasonCode, ReasonCode.Success);
    assert.ok(scram.verifyServer(authData(connack)));
  });

  test("a wrong password, an unknown user and a user whose entry is a $scrypt$ hash all get CONNACK 0x86", async (t) => {
    const b = await startTestBroker(t, {
      connections: {
        auth: {
          ...AUTH_TABLE,
          hashed:
            "$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        },
      },
    });
    for (const [user, password] of [
      ["dev", "wrong"],
      ["nobody", "pencil"],
      ["hashed", "pencil"],
    ] as const) {
      const raw = await RawClient.open(t, b.v5, 5);
      const connack = await scramConnect(raw, new ScramClient(user, password));
      assert.equal(
        connack.cmd === "connack" && connack.reasonCode,
        ReasonCode.BadUserNameOrPassword,
        user,
      );
      await raw.waitClosed();
    }
  });

  test("an unknown authentication method gets CONNACK 0x8C, and so does SCRAM on a listener without auth [MQTT-4.12.0-1]", async (t) => {
    const withAuth = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const raw = await RawClient.open(t, withAuth.v5, 5);
    const ack = await raw.connect({
      clientId: "m",
      properties: { authenticationMethod: "KERBEROS" },
    });
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.BadAuthenticationMethod);
    await raw.waitClosed();
    const open = await startTestBroker(t);
    const raw2 = await RawClient.open(t, open.v5, 5);
    const ack2 = await scramConnect(raw2, new ScramClient("dev", "pencil"));
    assert.equal(ack2.cmd === "connack" && ack2.reasonCode, ReasonCode.BadAuthenticationMethod);
  });

  test("a packet other than AUTH during the exchange is a protocol error [MQTT-3.1.2-30]", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const raw = await RawClient.open(t, b.v5, 5);
    raw.send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clean: true,
      clientId: "eager",
      keepalive: 0,
      properties: {
        authenticationMethod: METHOD,
        authenticationData: new ScramClient("dev", "x").first(),
      },
    });
    await raw.next((p) => p.cmd === "auth");
    raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0 }] });
    const ack = await raw.next((p) => p.cmd === "connack");
    assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.ProtocolError);
  });

  test("AUTH from a client that named no method is a protocol error [MQTT-4.12.0-6]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "plain" });
    raw.send({
      cmd: "auth",
      reasonCode: ReasonCode.ReAuthenticate,
      properties: { authenticationMethod: METHOD },
    });
    const d = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
  });
});

describe("MQTT 5 re-authentication", () => {
  test("AUTH 0x19 runs a new SCRAM exchange ending in AUTH 0x00; other packets flow meanwhile [MQTT-4.12.1-1]", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const raw = await RawClient.open(t, b.v5, 5);
    const connack = await scramConnect(raw, new ScramClient("dev", "pencil"));
    assert.equal(connack.cmd === "connack" && connack.reasonCode, ReasonCode.Success);
    const again = new ScramClient("dev", "pencil");
    raw.send({
      cmd: "auth",
      reasonCode: ReasonCode.ReAuthenticate,
      properties: { authenticationMethod: METHOD, authenticationData: again.first() },
    });
    const challenge = (await raw.next((p) => p.cmd === "auth")) as AuthPacket;
    raw.send({ cmd: "pingreq" });
    await raw.next((p) => p.cmd === "pingresp");
    raw.send({
      cmd: "auth",
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: {
        authenticationMethod: METHOD,
        authenticationData: again.final(authData(challenge)),
      },
    });
    const done = await raw.next((p) => p.cmd === "auth");
    assert.equal(done.cmd === "auth" && done.reasonCode, ReasonCode.Success);
    assert.ok(again.verifyServer(authData(done)));
    raw.send({ cmd: "pingreq" });
    await raw.next((p) => p.cmd === "pingresp");
  });

  test("re-authentication with another method gets DISCONNECT 0x82", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    const raw = await RawClient.open(t, b.v5, 5);
    await scramConnect(raw, new ScramClient("dev", "pencil"));
    const d = await reauthenticate(raw, new ScramClient("dev", "pencil"), "SCRAM-SHA-1");
    assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.ProtocolError);
    await raw.waitClosed();
  });

  test("a failed re-authentication gets DISCONNECT 0x87 and the close [MQTT-4.12.1-2]", async (t) => {
    const b = await startTestBroker(t, { connections: { auth: AUTH_TABLE } });
    for (const scram of [new ScramClient("dev", "wrong"), new ScramClient("stored", "s3cret")]) {
      const raw = await RawClient.open(t, b.v5, 5);
      await scramConnect(raw, new ScramClient("dev", "pencil"));
      // A wrong password, then the right password of another user: the user may not change.
      const d = await reauthenticate(raw, scram);
      assert.equal(d.cmd === "disconnect" && d.reasonCode, ReasonCode.NotAuthorized, scram.user);
      await raw.waitClosed();
    }
  });
});

test("authentication failures never put a password or authentication data in the log", async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-authlog-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, "broker.log");
  const logger = createLogger({ level: "trace", destination: logFile });
  const config = testConfig(dir, {});
  for (const l of config.listeners) l.connections = { ...l.connections, auth: AUTH_TABLE };
  const broker = await startBroker(config, logger);
  const port = broker.addresses.find((a) => a.kind === "v5")?.port ?? 0;
  const scram = new ScramClient("dev", "not-the-password");
  const raw = await RawClient.open(t, port, 5);
  const ack = await scramConnect(raw, scram);
  assert.equal(ack.cmd === "connack" && ack.reasonCode, ReasonCode.BadUserNameOrPassword);
  const plain = await RawClient.open(t, port, 5);
  await plain.connect({
    clientId: "p",
    username: "dev",
    password: Buffer.from("wrong-password-text"),
  });
  await broker.close();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  const text = await readFile(logFile, "utf8");
  const failed = text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === "auth.failed");
  // One field name for the user in every auth.failed line: `user`.
  assert.deepEqual(
    failed.map((e) => [e.method, e.user, e.username]),
    [
      ["SCRAM-SHA-256", "dev", undefined],
      ["password", "dev", undefined],
    ],
  );
  for (const secret of [
    "pencil",
    "not-the-password",
    "wrong-password-text",
    scram.first().toString("base64"),
  ]) {
    assert.ok(!text.includes(secret), `the log holds ${secret}`);
  }
  assert.ok(!text.includes(",p="), "no SCRAM proof");
});
