// A property test of routing over real sockets: for random subscriptions
// (overlapping filters with wildcards, `$` topics) and random publishes, a
// subscriber receives exactly the messages a naive matcher selects, in publish
// order, one copy each, at min(published QoS, highest granted QoS among its
// matching filters) ([MQTT-3.3.5-1], [MQTT-4.7.2-1], [MQTT-4.6.0-2]).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { topicMatches } from "../../src/protocol/index.ts";
import { client, collect, startTestBroker } from "../helpers/broker.ts";

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const level = fc.constantFrom("a", "b", "$s");
const topic = fc.array(level, { minLength: 1, maxLength: 3 }).map((l) => l.join("/"));
const filter = fc
  .tuple(
    fc.array(fc.constantFrom("a", "b", "$s", "+"), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"));
const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);

test("a subscriber gets what a naive matcher selects, in order, once, at the right QoS", async (t) => {
  const b = await startTestBroker(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(4 as const, 5 as const),
      fc.uniqueArray(fc.tuple(filter, qos), { minLength: 1, maxLength: 4, selector: ([f]) => f }),
      fc.array(fc.tuple(topic, qos), { minLength: 1, maxLength: 15 }),
      async (version, subscriptions, publishes) => {
        run++;
        const sub = await client(t, b.port(version), {
          protocolVersion: version,
          clientId: `sub-${run}`,
        });
        const got = collect(sub);
        await sub.subscribeAsync(
          Object.fromEntries(
            [...subscriptions, [`end/${run}`, 0]].map(([f, q]) => [f, { qos: q }]),
          ),
        );
        const pub = await client(t, b.port(version), {
          protocolVersion: version,
          clientId: `pub-${run}`,
        });
        for (const [tp, q] of publishes) await pub.publishAsync(tp, tp, { qos: q });
        await pub.publishAsync(`end/${run}`, "end", { qos: 0 });
        const expected: Array<[string, number]> = [];
        for (const [tp, q] of publishes) {
          const granted = subscriptions.filter(([f]) => topicMatches(f, tp)).map(([, g]) => g);
          if (granted.length > 0) expected.push([tp, Math.min(q, Math.max(...granted))]);
        }
        const messages = await got.next(expected.length + 1);
        assert.deepEqual(
          messages.map((m) => [m.topic, m.qos]),
          [...expected, [`end/${run}`, 0]],
        );
        sub.end(true);
        pub.end(true);
      },
    ),
    seed === undefined ? { numRuns: 40 } : { numRuns: 40, seed },
  );
});
