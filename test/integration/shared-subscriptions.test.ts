// Shared subscriptions `$share/<group>/<filter>` (MQTT 5 spec 4.8.2; 3.1.1
// clients may use them too), over real sockets: each message reaches exactly
// one member under every `router.shared_subscriptions_strategy`; a QoS 1
// message in flight to a member that goes away goes to another; QoS 2 stays
// with its member; no retained messages; the share-name and No Local rules;
// and the group's position across a restart.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import type { MqttClient } from "mqtt";
import { pino } from "pino";
import type { Logger } from "../../src/log.ts";
import { ReasonCode, SubackFailureV3 } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker, withTimeout } from "../helpers/broker.ts";

/** A logger that tells when the broker has logged a client's connection as closed. */
function closedClients(): { logger: Logger; seen: (clientId: string) => Promise<void> } {
  const closed = new Set<string>();
  const waiting = new Map<string, () => void>();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.includes('"conn.closed"')) continue;
        const id = (JSON.parse(line) as { client_id?: string }).client_id;
        if (id === undefined) continue;
        closed.add(id);
        waiting.get(id)?.();
      }
      done();
    },
  });
  const logger = pino({ level: "info", base: undefined }, stream);
  const seen = (clientId: string) =>
    closed.has(clientId)
      ? Promise.resolve()
      : withTimeout(
          new Promise<void>((resolve) => waiting.set(clientId, resolve)),
          `the broker logging ${clientId}'s connection as closed`,
        );
  return { logger, seen };
}

const V5 = { protocolVersion: 5 } as const;

const persistent = (clientId: string) => ({
  ...V5,
  clientId,
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
});

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-shared-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function publishNumbered(pub: MqttClient, topic: string, from: number, to: number) {
  for (let n = from; n <= to; n++) await pub.publishAsync(topic, String(n), { qos: 1 });
}

/** Waits until the collectors together hold `total` messages; returns each one's payloads. */
async function spread(
  collectors: Array<ReturnType<typeof collect>>,
  total: number,
): Promise<string[][]> {
  const deadline = Date.now() + 5000;
  while (collectors.reduce((sum, c) => sum + c.all.length, 0) < total) {
    assert.ok(Date.now() < deadline, "timed out waiting for the group's messages");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return collectors.map((c) => c.all.map((m) => m.payload));
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

function sorted(lists: string[][]): string[] {
  return lists.flat().sort((a, b) => Number(a) - Number(b));
}

describe("shared subscriptions: one member per message", () => {
  for (const strategy of ["roundrobin", "random", "sticky"] as const) {
    test(`${strategy}: each message reaches exactly one member (a 3.1.1 member among them); a non-shared subscriber gets every message`, async (t) => {
      const b = await startTestBroker(t, { sharedStrategy: strategy });
      const members = [
        await client(t, b.v5, { ...V5, clientId: "m1" }),
        await client(t, b.v5, { ...V5, clientId: "m2" }),
        await client(t, b.v4, { protocolVersion: 4, clientId: "m3" }),
      ];
      const got = members.map((m) => collect(m));
      for (const m of members) await m.subscribeAsync("$share/g/work/+", { qos: 1 });
      const plain = await client(t, b.v5, { ...V5, clientId: "plain" });
      const plainGot = collect(plain);
      await plain.subscribeAsync("work/+", { qos: 1 });
      const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
      await publishNumbered(pub, "work/x", 1, 30);
      const lists = await spread(got, 30);
      assert.deepEqual(sorted(lists), range(1, 30), "every message once to the group");
      assert.deepEqual(
        (await plainGot.next(30)).map((m) => m.payload),
        range(1, 30),
      );
      const counts = lists.map((l) => l.length);
      if (strategy === "roundrobin") assert.deepEqual(counts, [10, 10, 10]);
      if (strategy === "sticky") assert.deepEqual(counts, [30, 0, 0]);
      if (strategy === "random") assert.ok(counts.filter((c) => c > 0).length >= 2, `${counts}`);
      for (const list of lists) {
        assert.deepEqual(
          list,
          [...list].sort((x, y) => Number(x) - Number(y)),
          "in log order",
        );
      }
    });
  }

  test("groups with different names, or the same name and different filters, are separate groups", async (t) => {
    const b = await startTestBroker(t);
    const a = await client(t, b.v5, { ...V5, clientId: "a" });
    const c = await client(t, b.v5, { ...V5, clientId: "c" });
    const d = await client(t, b.v5, { ...V5, clientId: "d" });
    const [aGot, cGot, dGot] = [collect(a), collect(c), collect(d)];
    await a.subscribeAsync("$share/one/sep/#", { qos: 1 });
    await c.subscribeAsync("$share/two/sep/#", { qos: 1 });
    await d.subscribeAsync("$share/one/sep/+", { qos: 1 });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await publishNumbered(pub, "sep/x", 1, 3);
    for (const got of [aGot, cGot, dGot]) {
      assert.deepEqual(
        (await got.next(3)).map((m) => m.payload),
        range(1, 3),
      );
    }
  });
});

describe("shared subscriptions: members that go away", () => {
  test("a QoS 1 message in flight to a member that goes away goes to another member", async (t) => {
    const b = await startTestBroker(t, { sharedStrategy: "sticky" });
    const first = await RawClient.open(t, b.v5, 5);
    await first.connect({ clientId: "first" });
    first.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/g/job", qos: 1 }],
    });
    await first.next((p) => p.cmd === "suback");
    const second = await client(t, b.v5, { ...V5, clientId: "second" });
    const got = collect(second);
    await second.subscribeAsync("$share/g/job", { qos: 1 });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("job", "1", { qos: 1 });
    const unacked = await first.next((p) => p.cmd === "publish");
    assert.equal(unacked.cmd === "publish" && String(unacked.payload), "1");
    first.socket.destroy();
    await pub.publishAsync("job", "2", { qos: 1 });
    assert.deepEqual(
      (await got.next(2)).map((m) => m.payload),
      ["1", "2"],
    );
  });

  test("a QoS 2 message in flight stays with its member, which completes it when it reconnects [MQTT-4.8.2-4]", async (t) => {
    const closed = closedClients();
    const b = await startTestBroker(t, { sharedStrategy: "sticky", logger: closed.logger });
    const fields = { clientId: "q2", clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await RawClient.open(t, b.v5, 5);
    await first.connect(fields);
    first.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/g/q2", qos: 2 }],
    });
    await first.next((p) => p.cmd === "suback");
    const other = await client(t, b.v5, { ...V5, clientId: "other" });
    const got = collect(other);
    await other.subscribeAsync("$share/g/q2", { qos: 2 });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("q2", "once", { qos: 2 });
    const sent = await first.next((p) => p.cmd === "publish");
    first.socket.destroy();
    await first.waitClosed();
    // The broker must have seen the member go before "next" is published:
    // until then it is still the sticky member, and would keep "next" too.
    await closed.seen("q2");
    await pub.publishAsync("q2", "next", { qos: 2 });
    const [next] = await got.next(1);
    assert.equal(next?.payload, "next", "the QoS 2 message did not go to the other member");
    const back = await RawClient.open(t, b.v5, 5);
    await back.connect(fields);
    const resent = await back.next((p) => p.cmd === "publish");
    assert.ok(sent.cmd === "publish" && resent.cmd === "publish");
    assert.equal(resent.dup, true);
    assert.equal(resent.packetId, sent.packetId);
    assert.equal(String(resent.payload), "once");
  });

  test("a message its member refuses (PUBACK 0x80) is not sent to another member [MQTT-4.8.2-6]", async (t) => {
    const b = await startTestBroker(t, { sharedStrategy: "roundrobin" });
    const refuser = await RawClient.open(t, b.v5, 5);
    await refuser.connect({ clientId: "refuser" });
    refuser.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/g/rf", qos: 1 }],
    });
    await refuser.next((p) => p.cmd === "suback");
    const other = await client(t, b.v5, { ...V5, clientId: "other" });
    const got = collect(other);
    await other.subscribeAsync("$share/g/rf", { qos: 1 });
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("rf", "refused", { qos: 1 });
    const p = await refuser.next((x) => x.cmd === "publish");
    refuser.send({ cmd: "puback", packetId: p.packetId, reasonCode: ReasonCode.UnspecifiedError });
    refuser.socket.destroy();
    await refuser.waitClosed();
    await pub.publishAsync("rf", "after", { qos: 1 });
    const [first] = await got.next(1);
    assert.equal(first?.payload, "after");
  });
  test("a member that unsubscribes leaves the group; a group whose last member left ends, and a new one starts at the end of the log", async (t) => {
    const b = await startTestBroker(t);
    const leaver = await client(t, b.v5, { ...V5, clientId: "leaver" });
    const leaverGot = collect(leaver);
    const stayer = await client(t, b.v5, { ...V5, clientId: "stayer" });
    const stayerGot = collect(stayer);
    await leaver.subscribeAsync("$share/g/lv", { qos: 1 });
    await stayer.subscribeAsync("$share/g/lv", { qos: 1 });
    await leaver.unsubscribeAsync("$share/g/lv");
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await publishNumbered(pub, "lv", 1, 4);
    assert.deepEqual(
      (await stayerGot.next(4)).map((m) => m.payload),
      range(1, 4),
    );
    assert.equal(leaverGot.all.length, 0);
    await stayer.unsubscribeAsync("$share/g/lv");
    await publishNumbered(pub, "lv", 5, 6);
    await leaver.subscribeAsync("$share/g/lv", { qos: 1 });
    await publishNumbered(pub, "lv", 7, 7);
    const [first] = await leaverGot.next(1);
    assert.equal(first?.payload, "7", "the ended group's backlog did not come back");
  });
});

describe("shared subscriptions: rules", () => {
  test("retained messages are not sent on a shared subscription (spec 4.8.2)", async (t) => {
    const b = await startTestBroker(t);
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("ret/x", "retained", { qos: 1, retain: true });
    const member = await client(t, b.v5, { ...V5, clientId: "member" });
    const got = collect(member);
    await member.subscribeAsync("$share/g/ret/#", { qos: 1 });
    await pub.publishAsync("ret/y", "live", { qos: 1 });
    const [first] = await got.next(1);
    assert.equal(first?.payload, "live");
  });

  test("No Local on a shared subscription is a protocol error: DISCONNECT 0x82 [MQTT-3.8.3-4]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "nl" });
    raw.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/g/a", qos: 1, nl: true }],
    });
    const answer = await raw.next((p) => p.cmd === "disconnect" || p.cmd === "suback");
    assert.equal(answer.cmd === "disconnect" && answer.reasonCode, ReasonCode.ProtocolError);
    await raw.waitClosed();
  });

  for (const version of [4, 5] as const) {
    test(`MQTT ${version === 4 ? "3.1.1" : "5"}: invalid share names are refused in SUBACK (${version === 5 ? "0x8F" : "0x80"}), the valid filter beside them granted [MQTT-4.8.2-1] [MQTT-4.8.2-2]`, async (t) => {
      const b = await startTestBroker(t);
      const raw = await RawClient.open(t, b.port(version), version);
      await raw.connect({ clientId: "names" });
      const bad = ["$share//a", "$share/g", "$share/g+/a", "$share/g#/a", "$share/g/"];
      raw.send({
        cmd: "subscribe",
        packetId: 1,
        subscriptions: [...bad, "$share/ok/a/#"].map((topic) => ({ topic, qos: 1 as const })),
      });
      const suback = await raw.next((p) => p.cmd === "suback");
      assert.ok(suback.cmd === "suback");
      const refused = version === 5 ? ReasonCode.TopicFilterInvalid : SubackFailureV3;
      assert.deepEqual(suback.granted, [...bad.map(() => refused), 1]);
    });
  }
});

describe("shared subscriptions that are behind", () => {
  test("a group whose members were offline reads its backlog back from disk, in order", async (t) => {
    const b = await startTestBroker(t, {
      maxSegmentSize: 2048,
      cacheSegments: 0,
      maxSegmentCount: 1000,
    });
    const member = await client(t, b.v5, persistent("behind"));
    await member.subscribeAsync("$share/g/disk/#", { qos: 1 });
    await member.endAsync();
    const pub = await client(t, b.v5, { ...V5, clientId: "pub" });
    const count = 200;
    for (let i = 1; i <= count; i++) {
      await pub.publishAsync(`disk/${i % 2}`, `${i}`.padEnd(60, " "), { qos: 1 });
    }
    let got: ReturnType<typeof collect> | undefined;
    await client(t, b.v5, persistent("behind"), (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const messages = await got.next(count);
    assert.deepEqual(
      messages.map((m) => m.payload.trim()),
      range(1, count),
    );
  });
});

describe("shared subscriptions across a restart", () => {
  test("a group's position survives a restart: no message is lost or delivered twice to the group", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    const a = await client(t, first.v5, persistent("sa"));
    const bee = await client(t, first.v4, { protocolVersion: 4, clientId: "sb", clean: false });
    const online = [collect(a), collect(bee)];
    await a.subscribeAsync("$share/g/dur", { qos: 1 });
    await bee.subscribeAsync("$share/g/dur", { qos: 1 });
    const pub = await client(t, first.v5, { ...V5, clientId: "pub" });
    await publishNumbered(pub, "dur", 1, 6);
    const before = await spread(online, 6);
    await a.endAsync();
    await bee.endAsync();
    // Published while every member is offline: the group keeps them in the log.
    await publishNumbered(pub, "dur", 7, 10);
    pub.end(true);
    await first.broker.close();

    const second = await startTestBroker(t, { dir });
    const pub2 = await client(t, second.v5, { ...V5, clientId: "pub2" });
    await publishNumbered(pub2, "dur", 11, 12);
    let got: ReturnType<typeof collect> | undefined;
    await client(t, second.v5, persistent("sa"), (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const after = (await got.next(6)).map((m) => m.payload);
    assert.deepEqual(after, range(7, 12), "from where the group was, in order");
    await publishNumbered(pub2, "dur", 13, 13);
    assert.deepEqual(
      sorted([...before, after, [(await got.next(7))[6]?.payload ?? ""]]),
      range(1, 13),
    );
  });

  test("a QoS 1 message unacknowledged at a stop is handed out again after the restart", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir, sharedStrategy: "sticky" });
    const raw = await RawClient.open(t, first.v5, 5);
    const rawFields = {
      clientId: "slow",
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    };
    await raw.connect(rawFields);
    raw.send({
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/g/pend", qos: 1 }],
    });
    await raw.next((p) => p.cmd === "suback");
    const other = await client(t, first.v5, persistent("other"));
    await other.subscribeAsync("$share/g/pend", { qos: 1 });
    await other.endAsync();
    const pub = await client(t, first.v5, { ...V5, clientId: "pub" });
    await pub.publishAsync("pend", "pending", { qos: 1 });
    await raw.next((p) => p.cmd === "publish");
    pub.end(true);
    await first.broker.close();
    await raw.waitClosed();

    const second = await startTestBroker(t, { dir, sharedStrategy: "sticky" });
    let got: ReturnType<typeof collect> | undefined;
    await client(t, second.v5, persistent("other"), (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const [message] = await got.next(1);
    assert.equal(message?.payload, "pending");
  });
});
