import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FilterIndex } from "../../src/router/filter-index.ts";
import { decodeBody, encodeBody, originOf } from "../../src/router/message.ts";
import { MAX_PACKET_ID, Session } from "../../src/router/session.ts";
import { SubscriptionTable } from "../../src/router/subscription-table.ts";

function indexOf(filter: string, offsets: number[]): FilterIndex<Session> {
  const index = new FilterIndex<Session>(filter);
  for (const o of offsets) index.push(o);
  return index;
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

  test("overlapping filters give one delivery per offset at the highest granted QoS [MQTT-3.3.5-1]", () => {
    const session = new Session("c", 0, false, 0);
    const a = indexOf("a/+", [2, 5]);
    const b = indexOf("a/#", [2, 4, 5]);
    session.subscriptions.set("a/+", { filter: "a/+", qos: 2, sinceOffset: 0, index: a });
    session.subscriptions.set("a/#", { filter: "a/#", qos: 1, sinceOffset: 0, index: b });
    const seen: Array<[number, number]> = [];
    for (;;) {
      const next = session.nextDelivery(100);
      if (next === undefined) break;
      seen.push([next.offset, next.grantedQos]);
      session.cursor = next.offset + 1;
    }
    assert.deepEqual(seen, [
      [2, 2],
      [4, 1],
      [5, 2],
    ]);
  });

  test("offsets at or past the committed end and before a subscription's start are not delivered", () => {
    const session = new Session("c", 0, false, 0);
    const a = indexOf("a", [1, 6, 9]);
    session.subscriptions.set("a", { filter: "a", qos: 0, sinceOffset: 5, index: a });
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
    session.inflight.set(2, { publish, offset: null, phase: "publish", seq: 0 });
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
    table.add(fast, "t/#", 1, 0);
    table.add(slow, "t/#", 1, 0);
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
