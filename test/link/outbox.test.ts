// The outbox: what a link sends in one turn leaves in one socket write, in
// order, with templates patched; a batch past FLUSH_AT_BYTES goes at once;
// nothing goes after discard(). Real sockets; the peer reads what arrives.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { FLUSH_AT_BYTES, Outbox } from "../../src/link/outbox.ts";
import { ackTemplate, encodePacket, type PacketTemplate } from "../../src/protocol/index.ts";

/** A connected pair: `ours` (the broker side) and what the peer has received so far. */
async function socketPair(t: TestContext): Promise<{ ours: Socket; received: () => Buffer }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  const accepted = once(server, "connection");
  const peer = netConnect(address.port, "127.0.0.1");
  const [ours] = (await accepted) as [Socket];
  const chunks: Buffer[] = [];
  peer.on("data", (chunk: Buffer) => chunks.push(chunk));
  t.after(() => {
    peer.destroy();
    ours.destroy();
    server.close();
  });
  return { ours, received: () => Buffer.concat(chunks) };
}

/** Counts the socket's write calls (Node's method; nothing of ours is replaced). */
function countWrites(socket: Socket): { count: number } {
  const counter = { count: 0 };
  const write = socket.write.bind(socket) as (bytes: Buffer) => boolean;
  socket.write = ((bytes: Buffer) => {
    counter.count++;
    return write(bytes);
  }) as Socket["write"];
  return counter;
}

async function receivedBytes(received: () => Buffer, length: number): Promise<Buffer> {
  const deadline = Date.now() + 5000;
  while (received().length < length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return received();
}

describe("outbox", () => {
  test("packets queued in one turn leave in one write, in order, with packet ids and DUP patched", async (t) => {
    const { ours, received } = await socketPair(t);
    const writes = countWrites(ours);
    const outbox = new Outbox(ours);
    const publish = encodePacket(
      {
        cmd: "publish",
        topic: "a/b",
        payload: Buffer.from("xy"),
        qos: 1,
        packetId: 1,
        dup: false,
        retain: false,
      },
      4,
    );
    const template: PacketTemplate = { bytes: publish, packetIdAt: 2 + 2 + 3 };
    const expected: Buffer[] = [];
    for (let id = 1; id <= 100; id++) {
      outbox.pushTemplate(template, id, id % 2 === 0);
      expected.push(
        encodePacket(
          {
            cmd: "publish",
            topic: "a/b",
            payload: Buffer.from("xy"),
            qos: 1,
            packetId: id,
            dup: id % 2 === 0,
            retain: false,
          },
          4,
        ),
      );
      outbox.pushTemplate(ackTemplate("puback", 4), id, false);
      expected.push(encodePacket({ cmd: "puback", packetId: id }, 4));
    }
    const pingresp = encodePacket({ cmd: "pingresp" }, 4);
    outbox.push(pingresp);
    expected.push(pingresp);
    assert.equal(writes.count, 0, "nothing is written before the turn ends");
    const all = Buffer.concat(expected);
    assert.deepEqual(await receivedBytes(received, all.length), all);
    assert.equal(writes.count, 1);
  });

  test("a batch reaching FLUSH_AT_BYTES is written at once", async (t) => {
    const { ours, received } = await socketPair(t);
    const writes = countWrites(ours);
    const outbox = new Outbox(ours);
    const big = Buffer.alloc(FLUSH_AT_BYTES, 1);
    outbox.push(Buffer.from([9]));
    outbox.push(big);
    assert.equal(writes.count, 1);
    assert.equal(outbox.queuedBytes, 0);
    outbox.push(Buffer.from([8]));
    const bytes = await receivedBytes(received, FLUSH_AT_BYTES + 2);
    assert.equal(bytes.length, FLUSH_AT_BYTES + 2);
    assert.equal(bytes[0], 9);
    assert.equal(bytes.at(-1), 8);
    assert.equal(writes.count, 2);
  });

  test("after discard() nothing queued before or after is written", async (t) => {
    const { ours } = await socketPair(t);
    const writes = countWrites(ours);
    const outbox = new Outbox(ours);
    outbox.push(Buffer.from([1]));
    outbox.discard();
    outbox.push(Buffer.from([2]));
    outbox.flush();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes.count, 0);
  });
});
