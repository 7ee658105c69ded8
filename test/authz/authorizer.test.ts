// The authorization rules on their own: how two filters relate (checked
// against every topic of a small alphabet with fast-check), and the
// Authorizer's decisions (first match, default, %c/%u, users, $share).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Authorizer, filtersOverlap, filterWithin } from "../../src/authz/index.ts";
import { topicMatches } from "../../src/protocol/index.ts";

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const runs = (numRuns: number) => (seed === undefined ? { numRuns } : { numRuns, seed });

const filterArb = fc
  .tuple(
    fc.array(fc.constantFrom("a", "b", "$s", "", "+"), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .chain((f) => fc.constantFrom(f, "#"));

/** Every topic of 1 to 5 levels over a, b, $s, "" and c (c stands for any other name). */
const TOPICS: string[] = (() => {
  const out: string[] = [];
  let layer = [[]] as string[][];
  for (let n = 1; n <= 5; n++) {
    layer = layer.flatMap((l) => ["a", "b", "$s", "", "c"].map((x) => [...l, x]));
    out.push(...layer.map((l) => l.join("/")));
  }
  return out;
})();

describe("filter relations [MQTT-4.7.2-1]", () => {
  test("filterWithin(x, y) holds exactly when every topic x matches, y matches too", () => {
    fc.assert(
      fc.property(filterArb, filterArb, (x, y) => {
        const want = TOPICS.every((t) => !topicMatches(x, t) || topicMatches(y, t));
        assert.equal(filterWithin(x, y), want, `${x} within ${y}`);
      }),
      runs(300),
    );
  });

  test("filtersOverlap(x, y) holds exactly when some topic matches both", () => {
    fc.assert(
      fc.property(filterArb, filterArb, (x, y) => {
        const want = TOPICS.some((t) => topicMatches(x, t) && topicMatches(y, t));
        assert.equal(filtersOverlap(x, y), want, `${x} overlaps ${y}`);
      }),
      runs(300),
    );
  });

  test("examples", () => {
    assert.ok(filterWithin("a/b", "a/#"));
    assert.ok(filterWithin("a", "a/#"));
    assert.ok(!filterWithin("a/#", "a/+"));
    assert.ok(filterWithin("#", "+/#"), "a counterexample fast-check found");
    assert.ok(!filterWithin("$SYS/x", "#"));
    assert.ok(filtersOverlap("test/#", "test/nosubscribe"));
    assert.ok(filtersOverlap("+/b", "a/+"));
    assert.ok(!filtersOverlap("#", "$SYS/#"));
  });
});

function authorizer(options: Parameters<typeof Authorizer.create>[0]): Authorizer {
  const result = Authorizer.create(options);
  assert.ok(result instanceof Authorizer);
  return result;
}

describe("Authorizer", () => {
  const who = { clientId: "c1", username: "u1" };

  test("the first matching rule decides; the default decides when none matches", () => {
    const a = authorizer({
      defaultAllow: false,
      revealReason: false,
      rules: [
        { allow: false, action: "publish", filter: "x/secret" },
        { allow: true, action: "all", filter: "x/#" },
      ],
    });
    assert.equal(a.allows("publish", "x/secret", who), false);
    assert.equal(a.allows("publish", "x/open", who), true);
    assert.equal(a.allows("subscribe", "x/secret", who), true, "the deny rule is for publish only");
    assert.equal(a.allows("publish", "y", who), false);
  });

  test("%c and %u are filled in; a missing user name never grants and always refuses", () => {
    const a = authorizer({
      defaultAllow: true,
      revealReason: false,
      rules: [
        { allow: true, action: "all", filter: "u/%u/#" },
        { allow: false, action: "all", filter: "u/#" },
        { allow: false, action: "publish", filter: "c/%u/%c" },
      ],
    });
    assert.equal(a.allows("publish", "u/u1/x", who), true);
    assert.equal(a.allows("publish", "u/u2/x", who), false);
    const anonymous = { clientId: "c1", username: undefined };
    assert.equal(a.allows("publish", "u/u1/x", anonymous), false);
    assert.equal(a.allows("publish", "c/anything", anonymous), false, "unfillable deny refuses");
    assert.equal(a.allows("publish", "c/u1/c2", who), true);
    assert.equal(a.allows("publish", "c/u1/c1", who), false);
  });

  test("users lists restrict a rule to those users", () => {
    const a = authorizer({
      defaultAllow: false,
      revealReason: false,
      rules: [{ allow: true, action: "publish", filter: "t/#", users: ["u1"] }],
    });
    assert.equal(a.allows("publish", "t/1", who), true);
    assert.equal(a.allows("publish", "t/1", { clientId: "c", username: "u2" }), false);
    assert.equal(a.allows("publish", "t/1", { clientId: "c", username: undefined }), false);
  });

  test("a $share/group/ prefix is taken off before a subscription is checked", () => {
    const a = authorizer({
      defaultAllow: true,
      revealReason: false,
      rules: [{ allow: false, action: "subscribe", filter: "private/#" }],
    });
    assert.equal(a.allows("subscribe", "$share/g/private/x", who), false);
    assert.equal(a.allows("subscribe", "$share/g/public/x", who), true);
  });

  test("invalid rule filters are reported by position", () => {
    const result = Authorizer.create({
      defaultAllow: true,
      revealReason: false,
      rules: [
        { allow: true, action: "all", filter: "ok/%c/#" },
        { allow: true, action: "all", filter: "a+/b" },
      ],
    });
    assert.ok(Array.isArray(result));
    assert.deepEqual(
      result.map((p) => p.index),
      [1],
    );
  });
});
