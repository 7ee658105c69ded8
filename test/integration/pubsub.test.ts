// Publish/subscribe behaviour over real sockets, for MQTT 3.1.1 and 5.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { client, collect, startTestBroker, withTimeout } from "../helpers/broker.ts";

for (const version of [4, 5] as const) {
  describe(`publish and subscribe, MQTT ${version === 4 ? "3.1.1" : "5"}`, () => {
    test("QoS 0, 1 and 2 are delivered at min(published, granted) QoS, in both directions", async (t) => {
      const b = await startTestBroker(t);
      const sub = await client(t, b.port(version), { protocolVersion: version, clientId: "sub" });
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "pub" });
      const got = collect(sub);
      const granted = await sub.subscribeAsync({
        "q/0": { qos: 0 },
        "q/1": { qos: 1 },
        "q/2": { qos: 2 },
      });
      assert.deepEqual(
        granted.map((g) => g.qos),
        [0, 1, 2],
      );
      await pub.publishAsync("q/2", "a", { qos: 2 });
      await pub.publishAsync("q/1", "b", { qos: 2 });
      await pub.publishAsync("q/0", "c", { qos: 1 });
      await pub.publishAsync("q/2", "d", { qos: 1 });
      await pub.publishAsync("q/2", "e", { qos: 0 });
      const messages = await got.next(5);
      assert.deepEqual(
        messages.map((m) => [m.topic, m.payload, m.qos, m.retain]),
        [
          ["q/2", "a", 2, false],
          ["q/1", "b", 1, false],
          ["q/0", "c", 0, false],
          ["q/2", "d", 1, false],
          ["q/2", "e", 0, false],
        ],
      );
    });

    test("messages are delivered in log order across many publishes [MQTT-4.6.0-2]", async (t) => {
      // MQTT.js does not hold back for the server's Receive Maximum, so allow the whole burst.
      const b = await startTestBroker(t, { connections: { receiveMaximum: 1000 } });
      const sub = await client(t, b.port(version), { protocolVersion: version, clientId: "sub" });
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "pub" });
      const got = collect(sub);
      await sub.subscribeAsync("seq/#", { qos: 1 });
      const count = 300;
      await withTimeout(
        Promise.all(
          Array.from({ length: count }, (_, i) =>
            pub.publishAsync(`seq/${i % 3}`, String(i), { qos: 1 }),
          ),
        ),
        "the PUBACKs",
      );
      const messages = await got.next(count);
      assert.deepEqual(
        messages.map((m) => Number(m.payload)),
        Array.from({ length: count }, (_, i) => i),
      );
    });

    test("a retained message is stored, sent on subscribe with RETAIN set, and cleared by an empty one [MQTT-3.3.1-5] [MQTT-3.3.1-8] [MQTT-3.3.1-10]", async (t) => {
      const b = await startTestBroker(t);
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "pub" });
      await pub.publishAsync("r/a", "one", { qos: 1, retain: true });
      await pub.publishAsync("r/b", "two", { qos: 0, retain: true });
      await pub.publishAsync("r/b", "three", { qos: 1, retain: true });
      const first = await client(t, b.port(version), { protocolVersion: version, clientId: "s1" });
      const got = collect(first);
      await first.subscribeAsync("r/+", { qos: 1 });
      const retained = (await got.next(2)).sort((x, y) => x.topic.localeCompare(y.topic));
      assert.deepEqual(
        retained.map((m) => [m.topic, m.payload, m.retain]),
        [
          ["r/a", "one", true],
          ["r/b", "three", true],
        ],
      );
      // A live message to an existing subscription carries RETAIN 0 [MQTT-3.3.1-9].
      await pub.publishAsync("r/a", "four", { qos: 1, retain: true });
      const live = await got.next(3);
      assert.deepEqual([live[2]?.payload, live[2]?.retain], ["four", false]);
      await pub.publishAsync("r/a", "", { qos: 1, retain: true });
      await got.next(4);
      const second = await client(t, b.port(version), { protocolVersion: version, clientId: "s2" });
      const got2 = collect(second);
      await second.subscribeAsync("r/#", { qos: 1 });
      const after = await got2.next(1);
      assert.deepEqual(
        after.map((m) => [m.topic, m.payload]),
        [["r/b", "three"]],
      );
      await pub.publishAsync("r/marker", "m", { qos: 1 });
      const all = await got2.next(2);
      assert.equal(all[1]?.topic, "r/marker", "the cleared retained message is not sent");
    });

    test("wildcards match, a leading wildcard never matches a $ topic, unsubscribe stops delivery [MQTT-4.7.2-1]", async (t) => {
      const b = await startTestBroker(t);
      const sub = await client(t, b.port(version), { protocolVersion: version, clientId: "sub" });
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "pub" });
      const got = collect(sub);
      await sub.subscribeAsync(["#", "+/x", "$SYS/+"], { qos: 1 });
      await pub.publishAsync("$SYS/uptime", "s", { qos: 1 });
      await pub.publishAsync("$other/x", "hidden", { qos: 1 });
      await pub.publishAsync("a/x", "ax", { qos: 1 });
      const first = await got.next(2);
      assert.deepEqual(
        first.map((m) => m.payload),
        ["s", "ax"],
      );
      await sub.unsubscribeAsync(["#", "+/x"]);
      await pub.publishAsync("a/x", "gone", { qos: 1 });
      await pub.publishAsync("$SYS/uptime", "s2", { qos: 1 });
      const second = await got.next(3);
      assert.equal(second[2]?.payload, "s2");
      assert.equal(got.all.length, 3);
    });

    test("overlapping subscriptions give one copy at the highest granted QoS [MQTT-3.3.5-1]", async (t) => {
      const b = await startTestBroker(t);
      const sub = await client(t, b.port(version), { protocolVersion: version, clientId: "sub" });
      const pub = await client(t, b.port(version), { protocolVersion: version, clientId: "pub" });
      const got = collect(sub);
      await sub.subscribeAsync({ "o/#": { qos: 0 }, "o/+": { qos: 2 }, "o/a": { qos: 1 } });
      await pub.publishAsync("o/a", "x", { qos: 2 });
      await pub.publishAsync("o/b/c", "y", { qos: 2 });
      const messages = await got.next(2);
      assert.deepEqual(
        messages.map((m) => [m.payload, m.qos]),
        [
          ["x", 2],
          ["y", 0],
        ],
      );
      await pub.publishAsync("o/end", "marker", { qos: 1 });
      const all = await got.next(3);
      assert.equal(all[2]?.payload, "marker", "no second copy came before the marker");
    });
  });
}
