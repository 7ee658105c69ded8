// The checked-in corruption fixtures (test/fixtures/storage/, written by
// tools/make-storage-fixtures.ts): each damaged log directory is copied to a
// temporary folder, opened, read back and compared with its expected.json.

import assert from "node:assert/strict";
import { cp, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CommitLog, type CorruptionEvent, StorageError } from "../../storage/index.ts";
import { tempDir } from "../helpers/temp-dir.ts";

interface Expected {
  describe: string;
  open: "ok" | string;
  nextOffset?: number;
  readable?: number[];
  truncatedBytes?: number;
  droppedRecords?: number;
  repairedSegments?: number;
  fileSizeAfter?: number;
  corrupt?: { firstOffset: number; lastOffset: number }[];
}

const root = new URL("../fixtures/storage/", import.meta.url).pathname;

for (const name of (await readdir(root)).sort()) {
  const expected = JSON.parse(
    await readFile(join(root, name, "expected.json"), "utf8"),
  ) as Expected;
  test(`fixture ${name}: ${expected.describe}`, async (t) => {
    const dir = await tempDir(t);
    await cp(join(root, name), dir, { recursive: true });
    const before = await readFile(join(dir, "00000000000000000000.seg"));
    const corrupt: CorruptionEvent[] = [];
    const options = {
      dir,
      maxSegmentSize: 1 << 20,
      maxSegmentCount: 10,
      cacheSegments: 0,
      sync: "fsync" as const,
      onCorruption: (event: CorruptionEvent) => corrupt.push(event),
    };
    if (expected.open !== "ok") {
      await assert.rejects(CommitLog.open(options), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.code, expected.open);
        return true;
      });
      const after = await readFile(join(dir, "00000000000000000000.seg"));
      assert.deepEqual(after, before, "a refused log is left exactly as it was");
      return;
    }
    const { log, report } = await CommitLog.open(options);
    t.after(() => log.close());
    assert.equal(report.nextOffset, expected.nextOffset);
    assert.equal(log.nextOffset, expected.nextOffset);
    if (expected.truncatedBytes !== undefined) {
      assert.equal(report.truncatedBytes, expected.truncatedBytes);
    }
    if (expected.droppedRecords !== undefined) {
      assert.equal(report.droppedRecords, expected.droppedRecords);
    }
    if (expected.repairedSegments !== undefined) {
      assert.equal(report.repairedSegments.length, expected.repairedSegments);
    }
    const records = await log.read(0, 1 << 20);
    assert.deepEqual(
      records.map((r) => r.offset),
      expected.readable,
    );
    for (const record of records) {
      assert.equal(record.topic, `fixture/${record.offset}`);
      assert.equal(Buffer.from(record.body).toString(), `payload ${record.offset}`);
    }
    assert.deepEqual(
      corrupt.map(({ firstOffset, lastOffset }) => ({ firstOffset, lastOffset })),
      expected.corrupt ?? [],
    );
    if (expected.fileSizeAfter !== undefined) {
      const { size } = await stat(join(dir, "00000000000000000000.seg"));
      assert.equal(size, expected.fileSizeAfter);
    }
    // The repaired log takes new records at the next offset and keeps them.
    const next = log.append([
      {
        topic: "after",
        qos: 0,
        retain: false,
        timestampMs: 1,
        expiresAtMs: null,
        body: Buffer.from("x"),
      },
    ]);
    assert.equal(next, expected.nextOffset);
    await log.commit();
    const reread = await log.read(next, 1024);
    assert.equal(reread[0]?.topic, "after");
  });
}
