// MQTT 5 expiry, over real sockets with the mqtt client at protocol version 5:
// message expiry (dropped once expired, counted down at delivery, also for
// retained messages and after a restart), session expiry (from CONNECT,
// changed by DISCONNECT) and will delay. These behaviours are about time
// passing, so some tests wait a second or so: the shortest intervals the
// protocol can express.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ReasonCode } from "../../src/protocol/index.ts";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

const V5 = { protocolVersion: 5 } as const;
/** Just past one second: the shortest expiry interval has run out. */
const PAST_ONE_SECOND_MS = 1200;

const persistent = (clientId: string, sessionExpiryInterval = 3600) => ({
  ...V5,
  clientId,
  clean: false,
  properties: { sessionExpiryInterval },
});

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-expiry-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function expiryOf(message: { properties: Record<string, unknown> | undefined } | undefined) {
  return message?.properties?.messageExpiryInterval;
}

describe("message expiry (MQTT 5)", () => {
  test("a message that expired while its subscriber was offline is dropped; one still valid arrives with the interval counted down [MQTT-3.3.2-5] [MQTT-3.3.2-6]", async (t) => {
    const b = await startTestBroker(t);
    const sub = await client(t, b.v5, persistent("exp-sub"));
    await sub.subscribeAsync("exp/#", { qos: 1 });
    await sub.endAsync();
    const pub = await client(t, b.v5, { ...V5, clientId: "exp-pub" });
    await pub.publishAsync("exp/short", "gone", {
      qos: 1,
      properties: { messageExpiryInterval: 1 },
    });
    await pub.publishAsync("exp/long", "kept", {
      qos: 1,
      properties: { messageExpiryInterval: 60 },
    });
    await pub.publishAsync("exp/none", "plain", { qos: 1 });
    await sleep(PAST_ONE_SECOND_MS);
    let got: ReturnType<typeof collect> | undefined;
    await client(t, b.v5, persistent("exp-sub"), (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const [kept, plain] = await got.next(2);
    assert.equal(kept?.payload, "kept");
    const left = expiryOf(kept);
    assert.ok(typeof left === "number" && left >= 1 && left <= 59, `counted down: ${left}`);
    assert.equal(plain?.payload, "plain");
    assert.equal(expiryOf(plain), undefined, "no interval on a message published without one");
  });

  test("a retained message expires and its interval is counted down when sent on SUBSCRIBE", async (t) => {
    const b = await startTestBroker(t);
    const pub = await client(t, b.v5, { ...V5, clientId: "r-pub" });
    await pub.publishAsync("rexp/short", "gone", {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 1 },
    });
    await pub.publishAsync("rexp/long", "kept", {
      qos: 1,
      retain: true,
      properties: { messageExpiryInterval: 60 },
    });
    await sleep(PAST_ONE_SECOND_MS);
    const sub = await client(t, b.v5, { ...V5, clientId: "r-sub" });
    const got = collect(sub);
    await sub.subscribeAsync("rexp/#", { qos: 1 });
    await pub.publishAsync("rexp/marker", "m", { qos: 1 });
    const [kept, marker] = await got.next(2);
    assert.equal(kept?.payload, "kept");
    const left = expiryOf(kept);
    assert.ok(typeof left === "number" && left <= 59, `counted down: ${left}`);
    assert.equal(marker?.payload, "m", "the expired retained message was not sent");
  });

  test("after a restart an expired message is dropped and a valid one arrives with the interval counted down", async (t) => {
    const dir = await dataDir(t);
    const first = await startTestBroker(t, { dir });
    const sub = await client(t, first.v5, persistent("rs-sub"));
    await sub.subscribeAsync("rs/#", { qos: 1 });
    await sub.endAsync();
    const pub = await client(t, first.v5, { ...V5, clientId: "rs-pub" });
    await pub.publishAsync("rs/short", "gone", {
      qos: 1,
      properties: { messageExpiryInterval: 1 },
    });
    await pub.publishAsync("rs/long", "kept", {
      qos: 1,
      properties: { messageExpiryInterval: 60 },
    });
    pub.end(true);
    await first.broker.close();
    await sleep(PAST_ONE_SECOND_MS);
    const second = await startTestBroker(t, { dir });
    let got: ReturnType<typeof collect> | undefined;
    await client(t, second.v5, persistent("rs-sub"), (c) => {
      got = collect(c);
    });
    assert.ok(got !== undefined);
    const pub2 = await client(t, second.v5, { ...V5, clientId: "rs-pub2" });
    await pub2.publishAsync("rs/marker", "m", { qos: 1 });
    const [kept, marker] = await got.next(2);
    assert.equal(kept?.payload, "kept");
    const left = expiryOf(kept);
    assert.ok(typeof left === "number" && left >= 1 && left <= 59, `counted down: ${left}`);
    assert.equal(marker?.payload, "m", "the expired message was not replayed from disk");
  });
});

describe("session expiry (MQTT 5)", () => {
  test("a session ends once offline for its Session Expiry Interval from CONNECT; within it, it is resumed", async (t) => {
    const b = await startTestBroker(t);
    const fields = { clientId: "short", clean: false, properties: { sessionExpiryInterval: 1 } };
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect(fields);
    raw.send({ cmd: "disconnect" });
    await raw.waitClosed();
    const again = await RawClient.open(t, b.v5, 5);
    const resumed = await again.connect(fields);
    assert.equal(resumed.cmd === "connack" && resumed.sessionPresent, true);
    again.send({ cmd: "disconnect" });
    await again.waitClosed();
    await sleep(PAST_ONE_SECOND_MS);
    const late = await RawClient.open(t, b.v5, 5);
    const ended = await late.connect(fields);
    assert.equal(ended.cmd === "connack" && ended.sessionPresent, false);
  });

  test("DISCONNECT changes the Session Expiry Interval: 0 ends the session at once", async (t) => {
    const b = await startTestBroker(t);
    const fields = { clientId: "chg", clean: false, properties: { sessionExpiryInterval: 3600 } };
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect(fields);
    raw.send({ cmd: "disconnect", properties: { sessionExpiryInterval: 0 } });
    await raw.waitClosed();
    const again = await RawClient.open(t, b.v5, 5);
    const ack = await again.connect(fields);
    assert.equal(ack.cmd === "connack" && ack.sessionPresent, false);
  });

  test("DISCONNECT changes the Session Expiry Interval: raised from 1 second, the session outlives the old one", async (t) => {
    const b = await startTestBroker(t);
    const fields = { clientId: "raise", clean: false, properties: { sessionExpiryInterval: 1 } };
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect(fields);
    raw.send({ cmd: "disconnect", properties: { sessionExpiryInterval: 3600 } });
    await raw.waitClosed();
    await sleep(PAST_ONE_SECOND_MS);
    const again = await RawClient.open(t, b.v5, 5);
    const ack = await again.connect(fields);
    assert.equal(ack.cmd === "connack" && ack.sessionPresent, true);
  });

  test("a non-zero Session Expiry Interval at DISCONNECT after CONNECT with 0 is a protocol error [MQTT-3.14.2-2]", async (t) => {
    const b = await startTestBroker(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({ clientId: "zero", properties: { sessionExpiryInterval: 0 } });
    raw.send({ cmd: "disconnect", properties: { sessionExpiryInterval: 60 } });
    const answer = await raw.next((p) => p.cmd === "disconnect");
    assert.equal(answer.cmd === "disconnect" && answer.reasonCode, ReasonCode.ProtocolError);
    await raw.waitClosed();
  });
});

describe("will delay (MQTT 5)", () => {
  const willOf = (topic: string, delaySec: number) => ({
    topic,
    payload: Buffer.from(topic),
    qos: 1 as const,
    retain: false,
    properties: { willDelayInterval: delaySec, messageExpiryInterval: 30 },
  });

  test("a delayed will is published after its Will Delay Interval, with its message expiry", async (t) => {
    const b = await startTestBroker(t);
    const watcher = await client(t, b.v5, { ...V5, clientId: "w" });
    const got = collect(watcher);
    await watcher.subscribeAsync("wd/#", { qos: 1 });
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({
      clientId: "delayed",
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: willOf("wd/delayed", 1),
    });
    const lost = Date.now();
    raw.socket.destroy();
    const [will] = await got.next(1);
    assert.equal(will?.topic, "wd/delayed");
    assert.ok(Date.now() - lost >= 900, "not before the will delay");
    const left = expiryOf(will);
    assert.ok(typeof left === "number" && left <= 30);
  });

  test("a client that reconnects before the will delay has passed cancels its will [MQTT-3.1.3-9]", async (t) => {
    const b = await startTestBroker(t);
    const watcher = await client(t, b.v5, { ...V5, clientId: "w" });
    const got = collect(watcher);
    await watcher.subscribeAsync("wc/#", { qos: 1 });
    const fields = {
      clientId: "back",
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: willOf("wc/back", 1),
    };
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect(fields);
    raw.socket.destroy();
    await raw.waitClosed();
    const again = await RawClient.open(t, b.v5, 5);
    await again.connect({ ...fields, will: undefined });
    await sleep(PAST_ONE_SECOND_MS);
    const pub = await client(t, b.v5, { ...V5, clientId: "p" });
    await pub.publishAsync("wc/marker", "m", { qos: 1 });
    const [first] = await got.next(1);
    assert.equal(first?.topic, "wc/marker", "the will was not published");
  });

  test("the will is published when the session ends, if that comes before the will delay", async (t) => {
    const b = await startTestBroker(t);
    const watcher = await client(t, b.v5, { ...V5, clientId: "w" });
    const got = collect(watcher);
    await watcher.subscribeAsync("we/#", { qos: 1 });
    const soon = await RawClient.open(t, b.v5, 5);
    await soon.connect({
      clientId: "soon",
      clean: false,
      properties: { sessionExpiryInterval: 1 },
      will: willOf("we/soon", 3600),
    });
    const now = await RawClient.open(t, b.v5, 5);
    await now.connect({ clientId: "now", will: willOf("we/now", 3600) });
    const lost = Date.now();
    soon.socket.destroy();
    now.socket.destroy();
    const [first, second] = await got.next(2);
    assert.equal(first?.topic, "we/now", "a session without expiry ends with its connection");
    assert.equal(
      second?.topic,
      "we/soon",
      "published at the session's expiry (1 s), not at 3600 s",
    );
    assert.ok(Date.now() - lost >= 900);
  });
});

describe("intervals longer than one Node timer (2^31-1 ms, about 24.8 days)", () => {
  /**
   * Records the callbacks of timers longer than ~23 days and lets the test
   * run them early: what Node does after 24.8 days of waiting, as a Node
   * timer cannot wait longer. Only setTimeout's scheduling is watched; the
   * broker runs as it is.
   */
  function watchLongTimers(t: TestContext): { fireAll: () => void; count: () => number } {
    const real = globalThis.setTimeout;
    const long: Array<() => void> = [];
    const watching = ((fn: () => void, ms?: number, ...rest: unknown[]) => {
      const timer = (real as (...args: unknown[]) => NodeJS.Timeout)(fn, ms, ...rest);
      if ((ms ?? 0) >= 2_000_000_000) long.push(fn);
      return timer;
    }) as typeof setTimeout;
    globalThis.setTimeout = watching;
    t.after(() => {
      globalThis.setTimeout = real;
    });
    const fireAll = (): void => {
      for (const fn of long.splice(0)) fn();
    };
    return { fireAll, count: () => long.length };
  }

  async function untilArmed(timers: { count: () => number }, count: number): Promise<void> {
    for (let i = 0; timers.count() < count; i++) {
      assert.ok(i < 500, "the long timers were armed");
      await sleep(10);
    }
  }

  const THIRTY_DAYS_SEC = 30 * 24 * 3600;

  test("a 30-day session is still there when its first 24.8-day timer fires: the timer is re-armed for the rest", async (t) => {
    const b = await startTestBroker(t);
    const timers = watchLongTimers(t);
    const fields = {
      clientId: "month",
      clean: false,
      properties: { sessionExpiryInterval: THIRTY_DAYS_SEC },
    };
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect(fields);
    raw.send({ cmd: "disconnect" });
    await raw.waitClosed();
    await untilArmed(timers, 1);
    timers.fireAll(); // 24.8 days later
    const again = await RawClient.open(t, b.v5, 5);
    const ack = await again.connect(fields);
    assert.equal(ack.cmd === "connack" && ack.sessionPresent, true);
  });

  test("a 30-day will delay is not published when its first 24.8-day timer fires", async (t) => {
    const b = await startTestBroker(t);
    const watcher = await client(t, b.v5, { ...V5, clientId: "w" });
    const got = collect(watcher);
    await watcher.subscribeAsync("wl/#", { qos: 1 });
    const timers = watchLongTimers(t);
    const raw = await RawClient.open(t, b.v5, 5);
    await raw.connect({
      clientId: "later",
      clean: false,
      properties: { sessionExpiryInterval: 2 * THIRTY_DAYS_SEC },
      will: {
        topic: "wl/later",
        payload: Buffer.from("will"),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: THIRTY_DAYS_SEC },
      },
    });
    raw.socket.destroy();
    await untilArmed(timers, 2); // the will delay and the session expiry
    timers.fireAll(); // 24.8 days later
    const pub = await client(t, b.v5, { ...V5, clientId: "p" });
    await pub.publishAsync("wl/marker", "m", { qos: 1 });
    const [first] = await got.next(1);
    assert.equal(first?.topic, "wl/marker", "the will was not published");
  });
});
