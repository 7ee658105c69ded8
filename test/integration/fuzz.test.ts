// Bad input never crashes the broker: random bytes after a valid CONNECT (and
// instead of one) close only the offending connection, while a bystander
// keeps being served (DESIGN.md, "Protocol scope").
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RawClient, startTestBroker } from "../helpers/broker.ts";

const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

test("random bytes close only the connection that sent them; the broker keeps serving", async (t) => {
  const b = await startTestBroker(t);
  const bystander = await RawClient.open(t, b.v5, 5);
  await bystander.connect({ clientId: "bystander" });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(4 as const, 5 as const),
      fc.boolean(),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      async (version, connectFirst, bytes) => {
        const raw = await RawClient.open(t, b.port(version), version);
        if (connectFirst) await raw.connect({ clientId: `fuzz-${version}` });
        raw.write(Buffer.from(bytes));
        // FIN after the bytes: the broker reads them all, answers or not, and closes.
        raw.socket.end();
        await raw.waitClosed();
        bystander.send({ cmd: "pingreq" });
        await bystander.next((p) => p.cmd === "pingresp");
      },
    ),
    seed === undefined ? { numRuns: 100 } : { numRuns: 100, seed },
  );
  assert.ok(true);
});
