// Group commit without a promise per publish: every publish of one turn is
// told, in order, once the one fdatasync holding it is done, and never before.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createLogger } from "../../src/log.ts";
import { type CommitWaiter, Router } from "../../src/router/index.ts";
import { CommitLog } from "../../storage/index.ts";

describe("group commit", () => {
  for (const sync of ["fsync", "os"] as const) {
    test(`the QoS 1 publishes of one turn share one write${sync === "fsync" ? " and one fdatasync" : ""} and are told in order, after it (sync ${sync})`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), "group-commit-"));
      const { log } = await CommitLog.open({
        dir,
        maxSegmentSize: 1 << 20,
        maxSegmentCount: 10,
        cacheSegments: 1,
        sync,
      });
      t.after(async () => {
        await log.close();
        await rm(dir, { recursive: true, force: true });
      });
      const router = new Router({
        log,
        logger: createLogger({ level: "silent" }),
        maxOutgoingPacketCount: 200,
        sharedStrategy: "roundrobin",
        onFatal: (error) => assert.fail(String(error)),
      });
      // The segment file is opened by a first commit.
      await router.publish({
        topic: "t",
        qos: 1,
        retain: false,
        payload: Buffer.from([0]),
        expiresAtMs: null,
      });
      const syncsBefore = log.stats.syncs;
      const batchesBefore = log.stats.batches;
      const told: number[] = [];
      const count = 200;
      const all = new Promise<void>((resolve, reject) => {
        for (let i = 0; i < count; i++) {
          const waiter: CommitWaiter = {
            committed: () => {
              // Told only once the message is durable.
              assert.ok(log.committedOffset > i + 1);
              told.push(i);
              if (told.length === count) resolve();
            },
            failed: reject,
          };
          router.publishThen(
            { topic: "t", qos: 1, retain: false, payload: Buffer.from([i]), expiresAtMs: null },
            waiter,
          );
        }
      });
      assert.deepEqual(told, [], "nobody is told in the turn of the appends");
      await all;
      assert.deepEqual(
        told,
        Array.from({ length: count }, (_, i) => i),
      );
      assert.equal(log.stats.batches - batchesBefore, 1);
      assert.equal(log.stats.syncs - syncsBefore, sync === "fsync" ? 1 : 0);
    });
  }
});
