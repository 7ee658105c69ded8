// A subscriber that stops reading does not stall anyone else, and, since it
// holds a cursor rather than a queue, gets every message in order once it
// reads again (even QoS 0: nothing was dropped, delivery just paused).
import assert from "node:assert/strict";
import { test } from "node:test";
import { client, collect, RawClient, startTestBroker } from "../helpers/broker.ts";

test("a subscriber that stops reading stalls nobody and later receives everything in order", async (t) => {
  const b = await startTestBroker(t, { maxSegmentSize: 8 * 1024 * 1024 });
  const slow = await RawClient.open(t, b.v4, 4);
  await slow.connect({ clientId: "slow" });
  slow.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "bp/#", qos: 0 }] });
  await slow.next((p) => p.cmd === "suback");
  slow.socket.pause();
  const fast = await client(t, b.v4, { protocolVersion: 4, clientId: "fast" });
  const got = collect(fast);
  await fast.subscribeAsync("bp/#", { qos: 0 });
  const pub = await client(t, b.v4, { protocolVersion: 4, clientId: "pub" });
  const count = 1000;
  const body = "x".repeat(15_000);
  for (let i = 0; i < count; i++) await pub.publishAsync("bp/x", `${i}:${body}`, { qos: 1 });
  const fastMessages = await got.next(count);
  assert.equal(fastMessages.length, count);
  slow.socket.resume();
  const seen: number[] = [];
  while (seen.length < count) {
    const p = await slow.next((x) => x.cmd === "publish");
    seen.push(Number(String(p.cmd === "publish" ? p.payload : "").split(":")[0]));
  }
  assert.deepEqual(
    seen,
    Array.from({ length: count }, (_, i) => i),
  );
});
