// Retained messages: a committed retained message is matched by the next
// subscription at once, before its index write is done (its subscribers may
// already have it), and still reaches the index, in publish order.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Message } from "../../src/router/message.ts";
import { RetainedStore } from "../../src/router/retained-store.ts";
import { IndexDb } from "../../storage/index.ts";
import { tempDir } from "../helpers/temp-dir.ts";

function retained(topic: string, payload: string): Message {
  return { topic, qos: 1, retain: true, payload: Buffer.from(payload), expiresAtMs: null };
}

describe("retained store", () => {
  test("a stored message is matched at once, and written to the index in order [MQTT-3.3.1-5]", async (t) => {
    const dir = await tempDir(t, "retained-store-");
    let index = await IndexDb.open({ dir, sync: "fsync" });
    t.after(() => index.close());
    const store = new RetainedStore(index);
    const writes = [
      store.store(retained("a/1", "first")),
      store.store(retained("a/2", "kept")),
      store.store(retained("a/1", "second")),
      // A zero-byte retained message clears its topic [MQTT-3.3.1-10].
      store.store(retained("a/2", "")),
    ];
    // Same turn: no index write has completed yet.
    assert.deepEqual(
      store.match("a/#", Date.now()).map((m) => `${m.topic}=${m.payload}`),
      ["a/1=second"],
    );
    await Promise.all(writes);
    await index.close();
    index = await IndexDb.open({ dir, sync: "fsync" });
    const reloaded = new RetainedStore(index);
    await reloaded.load();
    assert.deepEqual(
      reloaded.match("a/#", Date.now()).map((m) => `${m.topic}=${m.payload}`),
      ["a/1=second"],
    );
  });
});
