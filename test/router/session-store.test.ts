// The session store's group commit: while one index batch is being written,
// the changes of the following turns wait and go together in the next batch;
// every flush resolves once its changes are durable, in order.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SESSION_CURSOR } from "../../src/router/persistence.ts";
import { SessionStore } from "../../src/router/session-store.ts";
import { IndexDb } from "../../storage/index.ts";
import { tempDir } from "../helpers/temp-dir.ts";

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("session store", () => {
  test("changes queued while a batch is written go together in the next batch, each flush after its own", async (t) => {
    const dir = await tempDir(t, "session-store-");
    const index = await IndexDb.open({ dir, sync: "fsync" });
    t.after(() => index.close());
    // Counts the batches the store writes; each is still the real one.
    let batches = 0;
    const batch = index.batch.bind(index);
    index.batch = () => {
      batches++;
      return batch();
    };
    const store = new SessionStore(
      index,
      (error) => assert.fail(String(error)),
      () => 0,
    );
    const flushed: number[] = [];
    const all: Promise<void>[] = [];
    for (let turn = 0; turn < 20; turn++) {
      store.putCursor(`client-${turn}`, turn);
      all.push(
        store.flush().then(() => {
          flushed.push(turn);
        }),
      );
      await nextTurn();
    }
    await Promise.all(all);
    assert.deepEqual(
      flushed,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.ok(batches < 20, `${batches} batches for 20 turns`);
    for (let turn = 0; turn < 20; turn++) {
      assert.equal(await index.cursors.get([`client-${turn}`, SESSION_CURSOR]), turn);
    }
  });
});
