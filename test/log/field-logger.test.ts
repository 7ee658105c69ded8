// withFields: a per-connection logger without a pino child; its lines carry
// the same fields, in the same order, as a pino child's would.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createLogger, type Logger, withFields } from "../../src/log.ts";

async function linesOf(write: (logger: Logger) => void): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), "field-logger-"));
  try {
    const path = join(dir, "log");
    const logger = createLogger({ level: "debug", destination: path });
    write(logger);
    await new Promise<void>((resolve, reject) =>
      logger.flush((err) => (err === undefined ? resolve() : reject(err))),
    );
    const text = await readFile(path, "utf8");
    return text
      .trim()
      .split("\n")
      .map((line) => {
        const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>;
        return rest;
      });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("field logger", () => {
  test("its lines equal a pino child's: fields first, then the line's own, nested children too", async () => {
    const script = (make: (parent: Logger, fields: Record<string, unknown>) => Logger) => {
      return (logger: Logger) => {
        const conn = make(logger.child({ listener: "v4-1" }), { conn: 7, remote: "1.2.3.4:5" });
        conn.info({ event: "conn.accepted" }, "accepted");
        const client = conn.child({ client_id: "c" });
        client.warn({ event: "packet.rejected", reason_code: 0x81 }, "rejected");
        client.debug({ event: "packet.sent", packet: "puback" }, "sent");
        client.error({ event: "packet.failed", err: new Error("boom") }, "failed");
        assert.equal(client.isLevelEnabled("trace"), false);
        client.trace({ event: "packet.sent" }, "not written");
      };
    };
    const ours = await linesOf(script((parent, fields) => withFields(parent, fields)));
    const pinos = await linesOf(script((parent, fields) => parent.child(fields)));
    assert.equal(ours.length, 4);
    const strip = (line: Record<string, unknown>) => {
      const err = line.err as { stack?: string } | undefined;
      return err === undefined ? line : { ...line, err: { ...err, stack: undefined } };
    };
    assert.deepEqual(ours.map(strip), pinos.map(strip));
    assert.deepEqual(
      ours.map((l) => Object.keys(l)),
      pinos.map((l) => Object.keys(l)),
    );
  });
});
