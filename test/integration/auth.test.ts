// Authentication with stored password hashes (rumqttd-passwd's $scrypt$),
// packets pipelined behind a CONNECT whose password check is asynchronous,
// malformed stored hashes refused at start, and the log line of a refusal.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startBroker } from "../../src/broker.ts";
import { createLogger } from "../../src/log.ts";
import { ConnackReturnCodeV3, ReasonCode } from "../../src/protocol/index.ts";
import { hashPassword } from "../../src/server/password-hash.ts";
import { RawClient, startTestBroker, testConfig, withTimeout } from "../helpers/broker.ts";
import { startTransportBroker } from "../helpers/transports.ts";

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

test("a refused password is CONNACK 0x04 in 3.1.1 and logged with the user name, never the password", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-authlog-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, "broker.log");
  const logger = createLogger({ level: "debug", destination: logFile });
  const b = await startTransportBroker(t, "tcp", { connections: { auth: { dev: HASH } }, logger });
  const raw = await RawClient.open(t, Number(new URL(b.url(4)).port), 4);
  const ack = await raw.connect({
    clientId: "guess",
    username: "dev",
    password: Buffer.from("Guessed-Password-123"),
  });
  assert.equal(ack.cmd === "connack" && ack.returnCode, ConnackReturnCodeV3.BadUserNameOrPassword);
  await raw.waitClosed();
  const refused = await withTimeout(
    (async () => {
      for (;;) {
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
        const text = await readFile(logFile, "utf8");
        const line = text
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((e) => e.event === "auth.failed" && e.method === "password");
        if (line !== undefined) return { line, text };
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    "the refusal's log line",
  );
  assert.equal(refused.line.user, "dev");
  assert.equal(refused.line.username, undefined, "one field name for the user: `user`");
  assert.ok(!refused.text.includes("Guessed-Password-123"), "the password is not in the log");
  assert.ok(!refused.text.includes(Buffer.from("Guessed-Password-123").toString("base64")));
});

test("with plain and hashed entries in one table, an unknown user's refusal takes as long as the hashed user's (over real sockets, generous bounds)", async (t) => {
  const slow = hashPassword("bobs", { logN: 14, r: 8, p: 1 });
  const b = await startTestBroker(t, { connections: { auth: { alice: "plainpass", bob: slow } } });
  const refusalMs = async (username: string): Promise<number> => {
    const raw = await RawClient.open(t, b.v4, 4);
    const startMs = performance.now();
    const ack = await raw.connect({ clientId: "", username, password: Buffer.from("wrong") });
    const ms = performance.now() - startMs;
    assert.equal(
      ack.cmd === "connack" && ack.returnCode,
      ConnackReturnCodeV3.BadUserNameOrPassword,
    );
    raw.socket.destroy();
    return ms;
  };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
  const unknown: number[] = [];
  const bob: number[] = [];
  for (let i = 0; i < 5; i++) {
    unknown.push(await refusalMs("nosuchuser"));
    bob.push(await refusalMs("bob"));
  }
  // Before the fix the unknown user was checked against alice's plain entry: ~1% of bob's time.
  assert.ok(
    median(unknown) >= 0.3 * median(bob),
    `unknown ${median(unknown).toFixed(1)} ms, bob ${median(bob).toFixed(1)} ms`,
  );
});
