// Topic aliases of one connection on their own: the inbound rules
// ([MQTT-3.3.2-8], [MQTT-3.3.2-9]) and the outbound least-recently-used
// assignment within the client's maximum ([MQTT-3.1.2-26]).
import assert from "node:assert/strict";
import { test } from "node:test";
import { InboundAliases, OutboundAliases } from "../../src/link/topic-aliases.ts";
import type { ProtocolError } from "../../src/protocol/index.ts";

const ok = () => undefined;
const reasonOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return (error as ProtocolError).reason;
  }
  return undefined;
};

test("inbound: an alias is set with a topic and stands for it after; 0, above the maximum or unset are refused", () => {
  const aliases = new InboundAliases(2);
  assert.equal(aliases.resolve("a/b", 1, ok), "a/b");
  assert.equal(aliases.resolve("", 1, ok), "a/b");
  assert.equal(aliases.resolve("c", 1, ok), "c", "an alias can be set again");
  assert.equal(aliases.resolve("", 1, ok), "c");
  assert.equal(
    reasonOf(() => aliases.resolve("x", 0, ok)),
    "TopicAliasInvalid",
  );
  assert.equal(
    reasonOf(() => aliases.resolve("x", 3, ok)),
    "TopicAliasInvalid",
  );
  assert.equal(
    reasonOf(() => aliases.resolve("", 2, ok)),
    "ProtocolError",
  );
  assert.equal(
    reasonOf(() => aliases.resolve("", undefined, ok)),
    "ProtocolError",
  );
  assert.equal(
    reasonOf(() => new InboundAliases(0).resolve("x", 1, ok)),
    "TopicAliasInvalid",
  );
});

test("outbound: new topics take aliases 1..max, a known topic goes without its name, the least recently used is reused", () => {
  const aliases = new OutboundAliases(2);
  const send = (topic: string) => {
    const choice = aliases.choose(topic);
    aliases.commit(topic, choice);
    return choice;
  };
  assert.deepEqual(send("t/1"), { alias: 1, withTopic: true });
  assert.deepEqual(send("t/2"), { alias: 2, withTopic: true });
  assert.deepEqual(send("t/1"), { alias: 1, withTopic: false });
  // t/2 is now the least recently used: t/3 takes its alias.
  assert.deepEqual(send("t/3"), { alias: 2, withTopic: true });
  assert.deepEqual(send("t/1"), { alias: 1, withTopic: false });
  assert.deepEqual(send("t/2"), { alias: 2, withTopic: true });
  // A choice that is not committed (the packet was dropped) changes nothing.
  assert.deepEqual(aliases.choose("t/4"), { alias: 1, withTopic: true });
  assert.deepEqual(send("t/2"), { alias: 2, withTopic: false });
  assert.equal(new OutboundAliases(0).enabled, false);
});
