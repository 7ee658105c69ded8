import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { topicMatches } from "../../src/protocol/index.ts";
import { FilterTree } from "../../src/router/filter-tree.ts";

const level = fc.constantFrom("a", "b", "$s", "", "c");
const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join("/"));
const filterArb = fc
  .tuple(
    fc.array(fc.constantFrom("a", "b", "$s", "", "+"), { minLength: 1, maxLength: 4 }),
    fc.boolean(),
  )
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .chain((f) => fc.constantFrom(f, "#"));

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

describe("filter tree", () => {
  test("matches exactly the filters a naive matcher matches, after adds and deletes [MQTT-4.7.2-1]", () => {
    fc.assert(
      fc.property(
        fc.array(filterArb, { maxLength: 20 }),
        fc.array(filterArb, { maxLength: 5 }),
        fc.array(topicArb, { minLength: 1, maxLength: 10 }),
        (added, removed, topics) => {
          const tree = new FilterTree<string>();
          const model = new Set<string>();
          for (const f of added) {
            tree.set(f, f);
            model.add(f);
          }
          for (const f of removed) {
            assert.equal(tree.delete(f), model.delete(f));
          }
          assert.equal(tree.size, model.size);
          for (const t of topics) {
            const got = tree
              .match(t)
              .map(([f]) => f)
              .sort();
            const want = [...model].filter((f) => topicMatches(f, t)).sort();
            assert.deepEqual(got, want, `topic ${JSON.stringify(t)}`);
          }
        },
      ),
      seed === undefined ? { numRuns: 500 } : { numRuns: 500, seed },
    );
  });

  test("deleting every filter leaves an empty tree", () => {
    const tree = new FilterTree<number>();
    tree.set("a/b/#", 1);
    tree.set("a/+", 2);
    assert.ok(tree.delete("a/b/#"));
    assert.ok(!tree.delete("a/b/#"));
    assert.ok(tree.delete("a/+"));
    assert.equal([...tree.entries()].length, 0);
    assert.deepEqual(tree.match("a/b"), []);
  });
});
