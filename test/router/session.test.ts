import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FilterIndex } from "../../src/router/filter-index.ts";
import { decodeBody, encodeBody, originOf, publisherOf } from "../../src/router/message.ts";
import {
  MAX_PACKET_ID,
  Session,
  type Subscription,
  type SubscriptionOptions,
} from "../../src/router/session.ts";
import type { SharedGroup } from "../../src/router/shared-group.ts";
import { parseSharedFilter } from "../../src/router/shared-group.ts";
import { SubscriptionTable } from "../../src/router/subscription-table.ts";

function indexOf(filter: string, offsets: number[]): FilterIndex<Session, SharedGroup> {
  const index = new FilterIndex<Session, SharedGroup>(filter);
  for (const o of offsets) index.push(o);
  return index;
}

function options(qos: 0 | 1 | 2, subscriptionId?: number): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId };
}

function sub(
  filter: string,
  qos: 0 | 1 | 2,
  sinceOffset: number,
  index: FilterIndex<Session, SharedGroup>,
  subscriptionId?: number,
): Subscription {
  return { ...options(qos, subscriptionId), filter, sinceOffset, index, group: undefined };
}

describe("filter index and session cursors", () => {
  test("a filter index finds the next offset at or after a cursor and forgets trimmed offsets", () => {
    const index = indexOf("a/#", [3, 7, 9, 20]);
    assert.equal(index.nextAtOrAfter(0), 3);
    assert.equal(index.nextAtOrAfter(7), 7);
    assert.equal(index.nextAtOrAfter(8), 9);
    assert.equal(index.nextAtOrAfter(21), undefined);
    index.trimBefore(9);
    assert.equal(index.length, 2);
    assert.equal(index.nextAtOrAfter(0), 9);
    assert.throws(() => index.push(5), { code: "ERR_ASSERTION" });
  });

  test("the messages a session is owed below an offset are counted once however many filters match, from its cursor and each filter's start", () => {
    const session = new Session("c", 3, false, 0);
    const a = indexOf("a/+", [1, 2, 5, 8, 12]);
    const b = indexOf("a/#", [1, 2, 5, 6, 8, 12]);
    session.subscriptions.set("a/+", sub("a/+", 1, 0, a));
    session.subscriptions.set("a/#", sub("a/#", 1, 6, b));
    // From cursor 3: a/+ owes 5 and 8; a/# (from 6) owes 6 and 8; 8 counts once.
    assert.equal(session.owedBefore(10), 3);
    assert.equal(session.owedBefore(3), 0);
    assert.equal(a.countBetween(2, 9), 3);
    assert.equal(a.countBetween(9, 2), 0);
  });

  test("overlapping filters give one delivery per offset with every matching subscription [MQTT-3.3.4-2] [MQTT-3.3.4-4]", () => {
    const session = new Session("c", 0, false, 0);
    const a = indexOf("a/+", [2, 5]);
    const b = indexOf("a/#", [2, 4, 5]);
    session.subscriptions.set("a/+", sub("a/+", 2, 0, a, 7));
    session.subscriptions.set("a/#", sub("a/#", 1, 0, b));
    const seen: Array<[number, string[]]> = [];
    for (;;) {
      const next = session.nextDelivery(100);
      if (next === undefined) break;
      seen.push([next.offset, next.subscriptions.map((s) => s.filter)]);
      session.cursor = next.offset + 1;
    }
    assert.deepEqual(seen, [
      [2, ["a/+", "a/#"]],
      [4, ["a/#"]],
      [5, ["a/+", "a/#"]],
    ]);
  });

  test("offsets at or past the committed end and before a subscription's start are not delivered", () => {
    const session = new Session("c", 0, false, 0);
    const a = indexOf("a", [1, 6, 9]);
    session.subscriptions.set("a", sub("a", 0, 5, a));
    assert.equal(session.nextDelivery(9)?.offset, 6);
    session.cursor = 7;
    assert.equal(session.nextDelivery(9), undefined);
  });

  test("packet ids are non-zero, skip ids in flight and wrap after 65535 [MQTT-2.3.1-1]", () => {
    const session = new Session("c", 0, false, 0);
    const publish = {
      topic: "t",
      qos: 1 as const,
      retain: false,
      dup: false,
      payload: Buffer.alloc(0),
    };
    assert.equal(session.allocatePacketId(), 1);
    session.inflight.set(2, { publish, offset: null, phase: "publish", seq: 0, expiresAtMs: null });
    assert.equal(session.allocatePacketId(), 3);
    for (let i = 4; i < MAX_PACKET_ID; i++) session.allocatePacketId();
    assert.equal(session.allocatePacketId(), MAX_PACKET_ID);
    assert.equal(session.allocatePacketId(), 1);
    assert.equal(session.allocatePacketId(), 3);
  });

  test("a message body round-trips its payload and forwarded properties", () => {
    const body = encodeBody(Buffer.from("hello"), {
      contentType: "text/plain",
      correlationData: Buffer.from([1, 2, 3]),
      userProperties: [
        ["b", "1"],
        ["a", "2"],
        ["b", "3"],
      ],
    });
    const back = decodeBody(new Uint8Array(body));
    assert.equal(back.payload.toString(), "hello");
    assert.deepEqual(back.properties?.userProperties, [
      ["b", "1"],
      ["a", "2"],
      ["b", "3"],
    ]);
    assert.deepEqual(back.properties?.correlationData, Buffer.from([1, 2, 3]));
    assert.equal(back.properties?.contentType, "text/plain");
    assert.deepEqual(decodeBody(encodeBody(Buffer.alloc(0), undefined)).properties, undefined);
  });
});

test("a body written before user properties kept their order (object form) still decodes, as pairs", () => {
  // Format version 1 as written before: the properties JSON holds mqtt-packet's object form.
  const json = Buffer.from(JSON.stringify({ userProperties: { a: "1", b: ["2", "3"] } }), "utf8");
  const header = Buffer.alloc(5);
  header.writeUInt8(1, 0);
  header.writeUInt32BE(json.length, 1);
  const back = decodeBody(Buffer.concat([header, json, Buffer.from("p")]));
  assert.equal(back.payload.toString(), "p");
  assert.deepEqual(back.properties?.userProperties, [
    ["a", "1"],
    ["b", "2"],
    ["b", "3"],
  ]);
});

describe("subscription table", () => {
  test("an index forgets the offsets every subscriber has passed, not those an offline session still needs", () => {
    const table = new SubscriptionTable();
    const fast = new Session("fast", 0, false, 0);
    const slow = new Session("slow", 0, true, 0);
    table.add(fast, "t/#", options(1), 0);
    table.add(slow, "t/#", options(1), 0);
    const [index] = table.match("t/x");
    assert.ok(index !== undefined);
    for (let o = 0; o < 10; o++) index.push(o);
    fast.cursor = 10;
    slow.cursor = 4;
    table.trimConsumed(index, 100);
    assert.equal(index.length, 10, "below the threshold nothing is trimmed");
    table.trimConsumed(index, 5);
    assert.equal(index.nextAtOrAfter(0), 4);
    table.remove(slow, "t/#");
    table.trimConsumed(index, 1);
    assert.equal(index.length, 0);
    table.remove(fast, "t/#");
    assert.deepEqual(table.match("t/x"), []);
  });
});

test("a body with an origin (format 2) decodes to the same payload and properties and gives its origin back", () => {
  const properties = { contentType: "text/plain", correlationData: Buffer.from([1, 2]) };
  const origin = { clientId: "pub-ü", packetId: 65535 };
  const withOrigin = encodeBody(Buffer.from("payload"), properties, origin);
  const without = encodeBody(Buffer.from("payload"), properties);
  assert.deepEqual(decodeBody(withOrigin), decodeBody(without));
  assert.deepEqual(originOf(withOrigin), origin);
  assert.equal(originOf(without), undefined);
  assert.deepEqual(
    decodeBody(encodeBody(Buffer.alloc(0), undefined, origin)).payload,
    Buffer.alloc(0),
  );
});

test("a body with a publisher (format 3) decodes like one without and names its publisher", () => {
  const properties = { contentType: "text/plain" };
  const withPublisher = encodeBody(Buffer.from("p"), properties, { publisherId: "me" });
  assert.deepEqual(decodeBody(withPublisher), decodeBody(encodeBody(Buffer.from("p"), properties)));
  assert.equal(publisherOf(withPublisher), "me");
  assert.equal(originOf(withPublisher), undefined);
  assert.equal(
    publisherOf(encodeBody(Buffer.from("p"), undefined, { clientId: "q", packetId: 1 })),
    "q",
  );
  assert.equal(publisherOf(encodeBody(Buffer.from("p"), undefined)), undefined);
});

test("share names: $share/<group>/<filter> with a group of one character at least, no + or # [MQTT-4.8.2-1] [MQTT-4.8.2-2]", () => {
  assert.deepEqual(parseSharedFilter("$share/g/a/+"), { shareName: "g", topicFilter: "a/+" });
  assert.equal(parseSharedFilter("a/b"), undefined);
  assert.equal(parseSharedFilter("$shared/g/a"), undefined);
  for (const bad of [
    "$share//a",
    "$share/g",
    "$share/g/",
    "$share/g+/a",
    "$share/#/a",
    "$share/g/a/#/b",
  ]) {
    assert.equal(parseSharedFilter(bad), "invalid", bad);
  }
});

test("a shared group is one reader of its filter's index: trimming keeps what the group has not handed out", () => {
  const table = new SubscriptionTable();
  const a = new Session("a", 0, false, 0);
  const b = new Session("b", 0, false, 0);
  const { newGroup } = table.add(a, "$share/g/t", options(1), 0);
  assert.ok(newGroup !== undefined);
  assert.equal(table.add(b, "$share/g/t", options(1), 0).newGroup, undefined);
  const [index] = table.match("t");
  assert.ok(index !== undefined);
  assert.ok(index.groups.has(newGroup));
  for (let o = 0; o < 6; o++) index.push(o);
  newGroup.cursor = 3;
  table.trimConsumed(index, 1);
  assert.equal(index.nextAtOrAfter(0), 3);
  assert.equal(table.remove(a, "$share/g/t").endedGroup, undefined);
  assert.equal(table.remove(b, "$share/g/t").endedGroup, newGroup);
  assert.ok(newGroup.ended);
  assert.deepEqual(table.match("t"), []);
});
