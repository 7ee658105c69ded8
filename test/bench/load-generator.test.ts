// The benchmark load generator's own parts (tools/bench/load/): the packet splitter, the
// pre-encoded packets, and a RawClient + Publisher against a scripted server on a real socket.
// The generator's counts are the benchmark's results, so a miscounted or misparsed packet
// here would silently skew every number in the README's Performance table.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import mqtt from "mqtt-packet";
import { RawClient } from "../../tools/bench/load/client.ts";
import { PacketReader } from "../../tools/bench/load/packet-reader.ts";
import { AckTemplate, PublishTemplate } from "../../tools/bench/load/packets.ts";
import { Publisher } from "../../tools/bench/load/publisher.ts";

const v4 = { protocolVersion: 4 } as const;
const gen = (p: mqtt.Packet): Buffer => mqtt.generate(p, v4);

/** A RawClient connected (clean session) to the scripted server on `port`. */
async function connectTo(port: number, clientId: string): Promise<RawClient> {
  const { client } = await RawClient.connect({
    host: "127.0.0.1",
    port,
    clientId,
    clean: true,
    timeoutMs: 5000,
  });
  return client;
}

interface Seen {
  type: number;
  flags: number;
  body: string;
}

/** One packet of every type the broker sends, with Remaining Lengths of 1, 2 and 3 bytes. */
const packets: Buffer[] = [
  gen({ cmd: "connack", returnCode: 0, sessionPresent: true }),
  gen({ cmd: "suback", messageId: 1, granted: [1] }),
  gen({
    cmd: "publish",
    topic: "a/b",
    payload: Buffer.from("x"),
    qos: 0,
    retain: false,
    dup: false,
  }),
  gen({
    cmd: "publish",
    topic: "a",
    payload: Buffer.alloc(200, 1),
    qos: 1,
    messageId: 7,
  } as mqtt.IPublishPacket),
  gen({ cmd: "puback", messageId: 258 }),
  gen({ cmd: "pubrec", messageId: 3 }),
  gen({ cmd: "pubrel", messageId: 65_535 }),
  gen({ cmd: "pubcomp", messageId: 1 }),
  gen({ cmd: "pingresp" }),
  gen({
    cmd: "publish",
    topic: "big",
    payload: Buffer.alloc(20_000, 2),
    qos: 2,
    messageId: 9,
  } as mqtt.IPublishPacket),
  gen({ cmd: "publish", topic: "", payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }),
];
const stream = Buffer.concat(packets);

function expected(): Seen[] {
  return packets.map((p) => {
    let i = 1;
    while (((p[i] as number) & 0x80) !== 0) i++;
    return {
      type: (p[0] as number) >> 4,
      flags: (p[0] as number) & 0x0f,
      body: p.subarray(i + 1).toString("hex"),
    };
  });
}

/**
 * Feeds `stream` cut at `cuts` through one shared scratch buffer that is overwritten after
 * every push, as the client's static read buffer is: the reader must keep nothing by reference.
 */
function feed(cuts: number[]): Seen[] {
  const seen: Seen[] = [];
  const reader = new PacketReader((type, flags, buf, start, end) => {
    seen.push({ type, flags, body: buf.subarray(start, end).toString("hex") });
  });
  const scratch = Buffer.alloc(stream.length + 16);
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    // Data at an offset, as a read into the middle of a buffer would be.
    stream.copy(scratch, 8, from, to);
    reader.push(scratch, 8, 8 + (to - from));
    scratch.fill(0xee);
    from = to;
  }
  assert.equal(reader.pendingBytes, 0);
  return seen;
}

describe("bench load generator: PacketReader", () => {
  test("every packet type, all in one read", () => {
    assert.deepEqual(feed([]), expected());
  });

  test("split into two reads at every byte position", () => {
    const want = expected();
    // Inside the 20,000-byte payload only near its ends: the middle cuts are all alike.
    const bigStart = stream.indexOf(packets[9] as Buffer);
    const bigEnd = bigStart + (packets[9] as Buffer).length;
    for (let cut = 1; cut < stream.length; cut++) {
      if (cut > bigStart + 32 && cut < bigEnd - 32 && cut % 1000 !== 0) continue;
      assert.deepEqual(feed([cut]), want, `cut at ${cut}`);
    }
  });

  test("split into three reads around every packet boundary, and byte by byte", () => {
    const want = expected();
    const boundaries: number[] = [];
    let at = 0;
    for (const p of packets) {
      at += p.length;
      boundaries.push(at);
    }
    for (const b of boundaries.slice(0, -1)) {
      for (let a = Math.max(1, b - 5); a < b; a++) {
        for (let c = b + 1; c < Math.min(stream.length, b + 6); c++) {
          assert.deepEqual(feed([a, c]), want, `cuts at ${a}, ${c}`);
        }
      }
    }
    const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(feed(everyByte), want);
  });

  test("a Remaining Length of more than four bytes is refused, whole or split", () => {
    const bad = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.throws(() => new PacketReader(() => {}).push(bad, 0, bad.length), /Remaining Length/);
    const reader = new PacketReader(() => {});
    reader.push(bad, 0, 3);
    assert.throws(() => reader.push(bad, 3, bad.length), /Remaining Length/);
  });
});

describe("bench load generator: packets", () => {
  test("AckTemplate writes the ack mqtt-packet encodes, for each type and id", () => {
    const out = Buffer.alloc(4);
    for (const cmd of ["puback", "pubrec", "pubrel", "pubcomp"] as const) {
      for (const id of [1, 255, 256, 4660, 65_535]) {
        new AckTemplate(cmd).writeInto(out, 0, id);
        assert.deepEqual(out, gen({ cmd, messageId: id }), `${cmd} ${id}`);
      }
    }
  });

  test("PublishTemplate patches packet id and timestamp into the mqtt-packet encoding", () => {
    for (const qos of [0, 1, 2] as const) {
      const template = new PublishTemplate("t/1", qos, 64);
      const out = Buffer.alloc(template.bytes + 3);
      assert.equal(template.writeInto(out, 3, 4660, 12.5), 3 + template.bytes);
      const payload = Buffer.alloc(64, 0x61);
      payload.writeDoubleBE(12.5, 0);
      const want = gen({
        cmd: "publish",
        topic: "t/1",
        payload,
        qos,
        messageId: qos > 0 ? 4660 : undefined,
        retain: false,
        dup: false,
      } as mqtt.IPublishPacket);
      assert.deepEqual(out.subarray(3), want, `qos ${qos}`);
    }
  });
});

/**
 * A scripted peer: answers CONNECT with CONNACK, then runs `script` on every packet the client
 * sends (parsed with mqtt-packet). Writes go out cut into 3-byte pieces to split packets.
 */
async function scriptedServer(
  script: (packet: mqtt.Packet, send: (p: mqtt.Packet) => void) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const parser = mqtt.parser(v4);
    const send = (p: mqtt.Packet): void => {
      const bytes = gen(p);
      for (let i = 0; i < bytes.length; i += 3) socket.write(bytes.subarray(i, i + 3));
    };
    parser.on("packet", (packet: mqtt.Packet) => {
      if (packet.cmd === "connect") send({ cmd: "connack", returnCode: 0, sessionPresent: false });
      else script(packet, send);
    });
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return {
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - start > timeoutMs) {
        clearInterval(timer);
        reject(new Error("timed out"));
      }
    }, 2);
  });
}

describe("bench load generator: RawClient and Publisher on a socket", () => {
  test("incoming QoS 0/1/2 publishes are counted and acked (PUBACK, PUBREC then PUBCOMP)", async () => {
    const replies: string[] = [];
    const server = await scriptedServer((packet, send) => {
      const p = packet as mqtt.Packet & { messageId?: number };
      replies.push(`${p.cmd} ${p.messageId}`);
      if (p.cmd === "pubrec") send({ cmd: "pubrel", messageId: p.messageId ?? 0 });
      if (p.cmd === "subscribe") {
        send({ cmd: "suback", messageId: p.messageId ?? 0, granted: [2] });
        for (let i = 1; i <= 300; i++) {
          const qos = (i % 3) as 0 | 1 | 2;
          send({
            cmd: "publish",
            topic: "t",
            payload: Buffer.alloc(i, 7),
            qos,
            messageId: qos > 0 ? i : undefined,
          } as mqtt.IPublishPacket);
        }
      }
    });
    try {
      const client = await connectTo(server.port, "t");
      const sizes: number[] = [];
      client.handlers.onPublish = (_buf, start, end) => {
        sizes.push(end - start);
      };
      await client.subscribe("t", 2, 5000);
      await until(() => client.received === 300 && replies.length === 1 + 200 + 100);
      assert.deepEqual(
        sizes,
        Array.from({ length: 300 }, (_, i) => i + 1),
      );
      const want = ["subscribe 1"];
      for (let i = 1; i <= 300; i++) {
        if (i % 3 === 1) want.push(`puback ${i}`);
        if (i % 3 === 2) want.push(`pubrec ${i}`);
      }
      // Each PUBCOMP follows its PUBREL, which the server sends on the PUBREC.
      const got = replies.filter((r) => !r.startsWith("pubcomp"));
      assert.deepEqual(got, want);
      const pubcomps = replies.filter((r) => r.startsWith("pubcomp")).sort();
      const pubrecs = want
        .filter((r) => r.startsWith("pubrec"))
        .map((r) => r.replace("rec", "comp"));
      assert.deepEqual(pubcomps, pubrecs.sort());
      client.destroy();
    } finally {
      await server.close();
    }
  });

  for (const qos of [0, 1, 2] as const) {
    test(`a publisher at QoS ${qos} sends exactly its count with at most a window in flight`, async () => {
      const window = 10;
      const count = 1000;
      const ids: number[] = [];
      let held: number[] = [];
      const server = await scriptedServer((packet, send) => {
        const p = packet as mqtt.Packet & { messageId?: number };
        if (p.cmd === "publish") {
          ids.push(p.messageId ?? 0);
          if (qos === 0) return;
          // Acks go out in bursts of three, so a window is refilled from several reads.
          held.push(p.messageId ?? 0);
          if (held.length === 3 || ids.length === count) {
            for (const id of held) send({ cmd: qos === 1 ? "puback" : "pubrec", messageId: id });
            held = [];
          }
        } else if (p.cmd === "pubrel") {
          send({ cmd: "pubcomp", messageId: p.messageId ?? 0 });
        }
      });
      try {
        const client = await connectTo(server.port, "p");
        const publisher = new Publisher(client, {
          template: new PublishTemplate("t", qos, 16),
          count,
          window,
        });
        // In flight right after every pump: the window is the upper bound.
        let maxInFlight = 0;
        const pump = client.handlers.onTurn;
        client.handlers.onTurn = () => {
          pump?.();
          maxInFlight = Math.max(maxInFlight, publisher.sent - publisher.acked);
        };
        publisher.kick();
        await until(() => publisher.done && ids.length === count);
        // Nothing more is sent after the count is reached.
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(ids.length, count);
        assert.equal(publisher.sent, count);
        if (qos > 0) {
          assert.equal(publisher.acked, count);
          assert.equal(maxInFlight, window);
          assert.ok(ids.every((id) => id >= 1 && id <= 65_535));
          // Ids in flight at once are distinct: each window's worth is.
          for (let i = 0; i + window <= count; i += window) {
            assert.equal(new Set(ids.slice(i, i + window)).size, window);
          }
        } else {
          assert.ok(ids.every((id) => id === 0));
        }
        client.destroy();
      } finally {
        await server.close();
      }
    });
  }
  test("a window waiting for a refill step is topped up after a millisecond without more acks", async () => {
    // Window 10 (refill step 3): the server acks only the first publish of the first ten and
    // holds the rest until the 11th arrives; without the time bound both sides would wait.
    const ids: number[] = [];
    const server = await scriptedServer((packet, send) => {
      if (packet.cmd !== "publish") return;
      const id = packet.messageId ?? 0;
      ids.push(id);
      if (ids.length === 1) send({ cmd: "puback", messageId: id });
      if (ids.length === 11) {
        for (const held of ids.slice(1)) send({ cmd: "puback", messageId: held });
      }
      if (ids.length > 11) send({ cmd: "puback", messageId: id });
    });
    try {
      const client = await connectTo(server.port, "w");
      const publisher = new Publisher(client, {
        template: new PublishTemplate("t", 1, 16),
        count: 20,
        window: 10,
      });
      publisher.kick();
      await until(() => publisher.done, 2000);
      assert.equal(ids.length, 20);
      client.destroy();
    } finally {
      await server.close();
    }
  });
});
