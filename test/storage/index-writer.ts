// Spawned by index-db.test.ts: writes numbered batches to the index as fast
// as it can until it is killed. Batch n puts KEYS keys, each holding n, and
// moves meta "last" to n, all in one atomic write. Prints "ready" once the
// first batch is durable.

import { IndexDb } from "../../storage/index.ts";

const KEYS = 8;
const dir = process.argv[2] as string;
const index = await IndexDb.open({ dir, sync: "fsync" });
for (let n = 1; n <= 1_000_000; n += 1) {
  const batch = index.batch();
  for (let k = 0; k < KEYS; k += 1) batch.put(index.cursors, [`client-${k}`, "main"], { batch: n });
  batch.put(index.meta, ["last"], n);
  await batch.write();
  if (n === 1) process.stdout.write("ready\n");
}
await index.close();
