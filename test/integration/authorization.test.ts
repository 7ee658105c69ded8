// The `[authorization]` rules (CONFIG.md) applied where packets are handled:
// a refused SUBSCRIBE filter gets 0x80 (v5: 0x80, or 0x87 with reveal_reason),
// a refused PUBLISH is dropped and logged (v5 QoS 1/2: 0x87 in PUBACK/PUBREC;
// 3.1.1: a plain ack), a refused will refuses the CONNECT (v5 0x87, 3.1.1
// 0x05); `%c` and `%u` in filters, `users` lists, default allow or deny.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startBroker } from "../../src/broker.ts";
import type { AuthorizationConfig } from "../../src/config/types.ts";
import { createLogger } from "../../src/log.ts";
import { ConnackReturnCodeV3, ReasonCode, SubackFailureV3 } from "../../src/protocol/index.ts";
import { collect, RawClient, withTimeout } from "../helpers/broker.ts";
import {
  connectTo,
  refusedCode,
  startTransportBroker,
  subackCodes,
  transportConfig,
} from "../helpers/transports.ts";

const RULES: AuthorizationConfig = {
  default: "allow",
  revealReason: false,
  rules: [
    { allow: false, action: "subscribe", filter: "test/nosubscribe" },
    { allow: true, action: "all", filter: "devices/%c/#" },
    { allow: false, action: "all", filter: "devices/#" },
    { allow: true, action: "publish", filter: "telemetry/#", users: ["sensor1"] },
    { allow: false, action: "publish", filter: "telemetry/#" },
    { allow: false, action: "publish", filter: "forbidden/#" },
  ],
};

for (const version of [4, 5] as const) {
  const v = version === 4 ? "3.1.1" : "5";
  describe(`authorization, MQTT ${v}`, () => {
    test("a denied filter gets SUBACK 0x80, and a filter overlapping it is denied too", async (t) => {
      const b = await startTransportBroker(t, "tcp", { authorization: RULES });
      const c = await connectTo(t, b.url(version), { protocolVersion: version, clientId: "s" });
      const refused = version === 5 ? ReasonCode.UnspecifiedError : SubackFailureV3;
      assert.deepEqual(await subackCodes(c, "test/nosubscribe", 1), [refused]);
      // test/# would carry test/nosubscribe's messages: it is refused as well.
      assert.deepEqual(await subackCodes(c, "test/#", 1), [refused]);
      assert.deepEqual(await subackCodes(c, "test/other", 1), [1]);
    });

    test("%c lets a client use its own subtree and no other (first matching rule decides)", async (t) => {
      const b = await startTransportBroker(t, "tcp", { authorization: RULES });
      const c = await connectTo(t, b.url(version), { protocolVersion: version, clientId: "c1" });
      assert.deepEqual(await subackCodes(c, "devices/c1/+/temp", 2), [2]);
      assert.equal(((await subackCodes(c, "devices/c2/#", 1))[0] as number) >= 0x80, true);
      // A subscription wider than the client's subtree is not covered by the allow rule.
      assert.equal(((await subackCodes(c, "devices/+/x", 1))[0] as number) >= 0x80, true);
    });

    test("a denied PUBLISH is dropped: never delivered, never retained", async (t) => {
      const b = await startTransportBroker(t, "tcp", { authorization: RULES });
      const sub = await connectTo(t, b.url(version), { protocolVersion: version, clientId: "w" });
      const got = collect(sub);
      await sub.subscribeAsync("forbidden/#", { qos: 2 });
      await sub.subscribeAsync("open/#", { qos: 2 });
      const raw = await RawClient.open(t, Number(new URL(b.url(version)).port), version);
      await raw.connect({ clientId: "p" });
      const publish = (topic: string, qos: 0 | 1 | 2, packetId?: number) =>
        raw.send({
          cmd: "publish",
          topic,
          payload: Buffer.from(topic),
          qos,
          dup: false,
          retain: true,
          ...(packetId === undefined ? {} : { packetId }),
        });
      publish("forbidden/0", 0);
      publish("forbidden/1", 1, 1);
      publish("forbidden/2", 2, 2);
      publish("open/after", 1, 3);
      const puback = await raw.next((p) => p.cmd === "puback" && p.packetId === 1);
      const pubrec = await raw.next((p) => p.cmd === "pubrec" && p.packetId === 2);
      if (version === 5) {
        assert.equal(puback.cmd === "puback" && puback.reasonCode, ReasonCode.NotAuthorized);
        assert.equal(pubrec.cmd === "pubrec" && pubrec.reasonCode, ReasonCode.NotAuthorized);
      } else {
        // 3.1.1 cannot say "refused": the ack is plain (mosquitto does the same), the QoS 2
        // exchange completes, and the message goes nowhere.
        raw.send({ cmd: "pubrel", packetId: 2 });
        await raw.next((p) => p.cmd === "pubcomp" && p.packetId === 2);
      }
      const [first] = await got.next(1);
      assert.equal(first?.topic, "open/after", "the denied messages were not delivered");
      const late = await connectTo(t, b.url(version), { protocolVersion: version, clientId: "l" });
      const retained = collect(late);
      await late.subscribeAsync("open/#", { qos: 1 });
      await late.subscribeAsync("forbidden/#", { qos: 1 });
      const [kept] = await retained.next(1);
      assert.equal(kept?.topic, "open/after");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(retained.all.length, 1, "no retained message from a denied publish");
    });

    test("users lists: only the named user may publish telemetry", async (t) => {
      const b = await startTransportBroker(t, "tcp", { authorization: RULES });
      const sub = await connectTo(t, b.url(version), { protocolVersion: version, clientId: "t" });
      const got = collect(sub);
      await sub.subscribeAsync("telemetry/#", { qos: 1 });
      const other = await connectTo(t, b.url(version), {
        protocolVersion: version,
        clientId: "o",
        username: "sensor2",
      });
      await other.publishAsync("telemetry/x", "from sensor2", { qos: 0 });
      const sensor = await connectTo(t, b.url(version), {
        protocolVersion: version,
        clientId: "s1",
        username: "sensor1",
      });
      await sensor.publishAsync("telemetry/x", "from sensor1", { qos: 1 });
      const [message] = await got.next(1);
      assert.equal(message?.payload, "from sensor1");
    });

    test("a will on a denied topic refuses the CONNECT (v5 0x87, 3.1.1 0x05)", async (t) => {
      const b = await startTransportBroker(t, "tcp", { authorization: RULES });
      const code = await refusedCode(t, b.url(version), {
        protocolVersion: version,
        clientId: "willful",
        will: { topic: "forbidden/will", payload: Buffer.from("x"), qos: 0, retain: false },
      });
      assert.equal(
        code,
        version === 5 ? ReasonCode.NotAuthorized : ConnackReturnCodeV3.NotAuthorized,
      );
    });
  });
}

test("default deny refuses what no rule allows; reveal_reason makes a v5 SUBACK say 0x87", async (t) => {
  const b = await startTransportBroker(t, "tcp", {
    authorization: { default: "deny", revealReason: true, rules: [] },
  });
  const c = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "d" });
  assert.deepEqual(await subackCodes(c, "anything", 0), [ReasonCode.NotAuthorized]);
  const old = await connectTo(t, b.url(4), { protocolVersion: 4, clientId: "d4" });
  assert.deepEqual(await subackCodes(old, "anything", 0), [SubackFailureV3]);
});

test("a client id holding a wildcard or '/' never gains from %c", async (t) => {
  const b = await startTransportBroker(t, "tcp", {
    authorization: {
      default: "deny",
      revealReason: true,
      rules: [{ allow: true, action: "all", filter: "devices/%c/#" }],
    },
  });
  const c = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "a/b" });
  assert.deepEqual(await subackCodes(c, "devices/a/b/x", 0), [ReasonCode.NotAuthorized]);
  const plus = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "+" });
  assert.deepEqual(await subackCodes(plus, "devices/+/x", 0), [ReasonCode.NotAuthorized]);
});

test("each refusal is logged with its action, topic, user and client id, as access.denied (a refused will too)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-authzlog-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const logFile = join(dir, "broker.log");
  const logger = createLogger({ level: "info", destination: logFile });
  const b = await startTransportBroker(t, "tcp", { authorization: RULES, logger });
  const c = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "x", username: "eve" });
  await c.publishAsync("forbidden/a", "x", { qos: 1 }).catch(() => undefined);
  await subackCodes(c, "test/nosubscribe", 0);
  await refusedCode(t, b.url(5), {
    protocolVersion: 5,
    clientId: "willful",
    username: "mal",
    will: { topic: "forbidden/will", payload: Buffer.from("x"), qos: 0, retain: false },
  });
  await withTimeout(
    (async () => {
      for (;;) {
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
        const lines = (await readFile(logFile, "utf8")).split("\n").filter(Boolean);
        const denied = lines.map((l) => JSON.parse(l)).filter((e) => e.event === "access.denied");
        if (denied.length >= 3) {
          assert.deepEqual(
            denied.map((e) => [e.action, e.topic ?? e.filter, e.user, e.client_id]),
            [
              ["publish", "forbidden/a", "eve", "x"],
              ["subscribe", "test/nosubscribe", "eve", "x"],
              ["will", "forbidden/will", "mal", "willful"],
            ],
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    "three access.denied lines",
  );
});

test("a rule whose filter is not a valid filter stops the start, naming the rule", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-authzbad-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = transportConfig(dir, "tcp", {
    authorization: {
      default: "allow",
      revealReason: false,
      rules: [{ allow: false, action: "all", filter: "a/#/b" }],
    },
  });
  await assert.rejects(startBroker(config, createLogger({ level: "silent" })), {
    code: "ERR_CONFIG_INVALID",
    problems: [
      `${config.file}: authorization.rules[0].filter: not a valid filter: misplaced_multi_level_wildcard`,
    ],
  });
});
