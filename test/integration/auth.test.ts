// Authentication with stored password hashes (rumqttd-passwd's $scrypt$),
// packets pipelined behind a CONNECT whose password check is asynchronous,
// and malformed stored hashes refused at start.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startBroker } from "../../src/broker.ts";
import { createLogger } from "../../src/log.ts";
import { ReasonCode } from "../../src/protocol/index.ts";
import { hashPassword } from "../../src/server/password-hash.ts";
import { RawClient, startTestBroker, testConfig } from "../helpers/broker.ts";

const HASH = hashPassword("s3cret", { logN: 10, r: 8, p: 1 });

test("a $scrypt$ stored password accepts the right password and refuses a wrong one", async (t) => {
  const b = await startTestBroker(t, { connections: { auth: { dev: HASH } } });
  const right = await (await RawClient.open(t, b.v5, 5)).connect({
    clientId: "r",
    username: "dev",
    password: Buffer.from("s3cret"),
  });
  assert.equal(right.cmd === "connack" && right.reasonCode, ReasonCode.Success);
  const wrong = await (await RawClient.open(t, b.v5, 5)).connect({
    clientId: "w",
    username: "dev",
    password: Buffer.from("S3cret"),
  });
  assert.equal(wrong.cmd === "connack" && wrong.reasonCode, ReasonCode.BadUserNameOrPassword);
  const unknown = await (await RawClient.open(t, b.v5, 5)).connect({
    clientId: "u",
    username: "nobody",
    password: Buffer.from("s3cret"),
  });
  assert.equal(unknown.cmd === "connack" && unknown.reasonCode, ReasonCode.BadUserNameOrPassword);
});

test("packets sent right behind CONNECT wait for the password check and are then handled in order", async (t) => {
  const b = await startTestBroker(t, { connections: { auth: { dev: HASH } } });
  const raw = await RawClient.open(t, b.v4, 4);
  raw.send({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    clientId: "pipeliner",
    keepalive: 0,
    username: "dev",
    password: Buffer.from("s3cret"),
  });
  raw.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "p/#", qos: 1 }] });
  raw.send({
    cmd: "publish",
    topic: "p/x",
    payload: Buffer.from("hi"),
    qos: 1,
    packetId: 2,
    dup: false,
    retain: false,
  });
  await raw.next((p) => p.cmd === "connack");
  await raw.next((p) => p.cmd === "suback");
  await raw.next((p) => p.cmd === "puback" && p.packetId === 2);
  const delivered = await raw.next((p) => p.cmd === "publish");
  assert.equal(delivered.cmd === "publish" && String(delivered.payload), "hi");
});

test("a malformed stored hash stops the start with ERR_CONFIG_INVALID naming its key", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-auth-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = testConfig(dir, {
    connections: { auth: { dev: "$scrypt$ln=99,r=8,p=1$AA==$AA==" } },
  });
  await assert.rejects(startBroker(config, createLogger({ level: "silent" })), (error: unknown) => {
    const e = error as { code?: string; problems?: string[] };
    assert.equal(e.code, "ERR_CONFIG_INVALID");
    assert.ok(e.problems?.some((p) => p.includes("v4.1.connections.auth.dev")));
    return true;
  });
});
