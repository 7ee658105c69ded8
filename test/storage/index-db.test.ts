// The LevelDB index: typed keyspaces, prefix iteration, atomic batches that
// survive a kill -9, values checked on read, and a clear error when another
// process holds the database.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";
import { IndexDb } from "../../storage/index.ts";
import { decodeValue, encodeValue } from "../../storage/index-db.ts";
import { tempDir } from "../helpers/temp-dir.ts";

test("values put in a batch read back from their keyspace after a reopen", async (t) => {
  const dir = await tempDir(t);
  let index = await IndexDb.open({ dir, sync: "fsync" });
  await index
    .batch()
    .put(index.sessions, ["c1"], { expiry: 60, version: 5 })
    .put(index.retained, ["a/b"], Buffer.from([0, 1, 2, 255]))
    .put(index.outbound, ["c1", 7], { offset: 42, state: "publish" })
    .write();
  await index.close();
  index = await IndexDb.open({ dir, sync: "fsync" });
  t.after(() => index.close());
  assert.deepEqual(await index.sessions.get(["c1"]), { expiry: 60, version: 5 });
  assert.deepEqual(await index.retained.get(["a/b"]), Buffer.from([0, 1, 2, 255]));
  assert.deepEqual(await index.outbound.get(["c1", 7]), { offset: 42, state: "publish" });
  assert.equal(await index.sessions.get(["c2"]), undefined);
  assert.equal(await index.retained.get(["c1"]), undefined, "keyspaces do not share keys");
});

test("entries() walks one client's keys in order and no other client's", async (t) => {
  const dir = await tempDir(t);
  const index = await IndexDb.open({ dir, sync: "os" });
  t.after(() => index.close());
  const batch = index.batch();
  for (const id of [300, 2, 65535, 10]) batch.put(index.outbound, ["dev", id], id);
  batch.put(index.outbound, ["dev2", 1], 1).put(index.outbound, ["de", 1], 1);
  batch.put(index.subscriptions, ["dev", "a/#"], 1);
  await batch.write();
  const seen = [];
  for await (const [key, value] of index.outbound.entries(["dev"])) seen.push([key, value]);
  assert.deepEqual(seen, [
    [["dev", 2], 2],
    [["dev", 10], 10],
    [["dev", 300], 300],
    [["dev", 65535], 65535],
  ]);
  const all = [];
  for await (const [key] of index.outbound.entries()) all.push(key);
  assert.equal(all.length, 6);
});

test("a batch is applied whole or not at all, even when the process is killed with SIGKILL", async (t) => {
  const dir = await tempDir(t);
  const writer = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "index-writer.ts"), dir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const [chunk] = (await once(writer.stdout, "data")) as [Buffer];
  assert.equal(chunk.toString().trim(), "ready");
  // Let it write for a while, then kill it in the middle of whatever it does.
  await new Promise((resolve) => setTimeout(resolve, 300));
  writer.kill("SIGKILL");
  await once(writer, "exit");
  const index = await IndexDb.open({ dir, sync: "fsync" });
  t.after(() => index.close());
  const last = (await index.meta.get(["last"])) as number;
  assert.ok(last >= 1, "the first durable batch survives");
  for (let k = 0; k < 8; k += 1) {
    assert.deepEqual(
      await index.cursors.get([`client-${k}`, "main"]),
      { batch: last },
      `key ${k} belongs to the same batch as meta.last`,
    );
  }
});

test("a second process cannot open an index that is in use, and is told why", async (t) => {
  const dir = await tempDir(t);
  const index = await IndexDb.open({ dir, sync: "os" });
  t.after(() => index.close());
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import("${join(import.meta.dirname, "../../storage/index.ts")}").then(({ IndexDb }) => IndexDb.open({ dir: ${JSON.stringify(dir)}, sync: "os" })).then(() => process.exit(0), (e) => { console.log(e.code); process.exit(3); })`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 3);
  assert.equal(out.trim(), "ERR_STORAGE_INDEX");
});

test("a stored value that fails its CRC is reported as ERR_STORAGE_CORRUPT, never returned", () => {
  const good = encodeValue({ offset: 12 });
  assert.deepEqual(decodeValue(good, "cursors"), { offset: 12 });
  const bad = Buffer.from(good);
  bad[bad.length - 2] = (bad[bad.length - 2] as number) ^ 0x20;
  assert.throws(() => decodeValue(bad, "cursors"), { code: "ERR_STORAGE_CORRUPT" });
  assert.throws(() => decodeValue(bad.subarray(0, 3), "cursors"), { code: "ERR_STORAGE_CORRUPT" });
});
