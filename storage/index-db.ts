// The index: a LevelDB database (through `level`) holding everything the
// broker must remember besides the log itself, in typed keyspaces. Called by
// the router through storage/index.ts. Knows nothing about what the values
// mean: a value is JSON or raw bytes, stored in a small checked envelope.
//
// Value envelope: u8 kind (1 = JSON, 2 = bytes), u32 CRC32 of the payload
// (little-endian), payload. A value that fails the check is reported as
// ERR_STORAGE_CORRUPT, never returned.
//
// Invariants:
// - A batch is applied whole or not at all (LevelDB's write batch).
// - With sync "fsync", a write resolves only after LevelDB has synced its log.

import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { Level } from "level";
import { StorageError } from "./errors.ts";
import { decodeKey, encodeKey, type KeyPart, prefixRange } from "./keys.ts";
import type { SyncMode } from "./types.ts";

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export type IndexValue = JsonValue | Uint8Array;

const KIND_JSON = 1;
const KIND_BYTES = 2;
const ENVELOPE_HEADER = 5;

type Db = Level<string, Uint8Array>;

/** One keyspace: its keys are tuples of the shape `K`. */
export class Keyspace<K extends readonly KeyPart[]> {
  readonly name: string;
  readonly #db: Db;

  constructor(db: Db, name: string) {
    this.#db = db;
    this.name = name;
  }

  key(parts: K): string {
    return encodeKey(this.name, parts);
  }

  async get(parts: K): Promise<IndexValue | undefined> {
    const key = this.key(parts);
    let raw: Uint8Array | undefined;
    try {
      raw = await this.#db.get(key);
    } catch (err) {
      throw indexError(`cannot read ${this.name}`, err);
    }
    return raw === undefined ? undefined : decodeValue(raw, this.name);
  }

  /** Every entry whose key starts with `prefix`, in key order. */
  async *entries(prefix: readonly KeyPart[] = []): AsyncGenerator<[K, IndexValue]> {
    const range =
      prefix.length === 0
        ? { gt: `${this.name}\u0000`, lt: `${this.name}\u0001` }
        : prefixRange(this.name, prefix);
    try {
      for await (const [key, raw] of this.#db.iterator(range)) {
        yield [decodeKey(key).parts as unknown as K, decodeValue(raw, this.name)];
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw indexError(`cannot iterate ${this.name}`, err);
    }
  }
}

/** Operations applied together by `write()`. */
export class IndexBatch {
  readonly #db: Db;
  readonly #sync: boolean;
  readonly #ops: { type: "put" | "del"; key: string; value?: Uint8Array }[] = [];

  constructor(db: Db, sync: boolean) {
    this.#db = db;
    this.#sync = sync;
  }

  get length(): number {
    return this.#ops.length;
  }

  put<K extends readonly KeyPart[]>(keyspace: Keyspace<K>, parts: K, value: IndexValue): this {
    this.#ops.push({ type: "put", key: keyspace.key(parts), value: encodeValue(value) });
    return this;
  }

  del<K extends readonly KeyPart[]>(keyspace: Keyspace<K>, parts: K): this {
    this.#ops.push({ type: "del", key: keyspace.key(parts) });
    return this;
  }

  /**
   * Applies the operations as one LevelDB write batch. Through the chained
   * batch API: `level`'s array form copies and re-validates every operation
   * object, about four times the cost per operation, which a broker writing
   * cursors and packet ids for thousands of deliveries a second notices.
   */
  async write(): Promise<void> {
    if (this.#ops.length === 0) return;
    const batch = this.#db.batch();
    try {
      for (const op of this.#ops) {
        if (op.type === "put") batch.put(op.key, op.value as Uint8Array);
        else batch.del(op.key);
      }
      await batch.write({ sync: this.#sync });
    } catch (err) {
      // A batch that failed before write() must still be closed; close() is idempotent.
      await batch.close().catch(() => undefined);
      throw indexError("index write failed", err);
    }
  }
}

export interface IndexDbOptions {
  /** Folder of the LevelDB database (created if missing). */
  dir: string;
  sync: SyncMode;
}

export class IndexDb {
  readonly #db: Db;
  readonly #sync: boolean;
  /** Sessions by client id. */
  readonly sessions: Keyspace<[clientId: string]>;
  /** A session's subscriptions by client id and filter. */
  readonly subscriptions: Keyspace<[clientId: string, filter: string]>;
  /** Read positions in the log by owner and name (a session's next offset, a group's). */
  readonly cursors: Keyspace<[owner: string, name: string]>;
  /** Outbound packet ids assigned to log offsets, by client id and packet id. */
  readonly outbound: Keyspace<[clientId: string, packetId: number]>;
  /** Inbound QoS 2 packet ids awaiting PUBREL, by client id and packet id. */
  readonly inbound: Keyspace<[clientId: string, packetId: number]>;
  /** Retained messages by topic. */
  readonly retained: Keyspace<[topic: string]>;
  /** Log and index metadata by name. */
  readonly meta: Keyspace<[name: string]>;

  private constructor(db: Db, sync: boolean) {
    this.#db = db;
    this.#sync = sync;
    this.sessions = new Keyspace(db, "sessions");
    this.subscriptions = new Keyspace(db, "subscriptions");
    this.cursors = new Keyspace(db, "cursors");
    this.outbound = new Keyspace(db, "outbound");
    this.inbound = new Keyspace(db, "inbound");
    this.retained = new Keyspace(db, "retained");
    this.meta = new Keyspace(db, "meta");
  }

  static async open(options: IndexDbOptions): Promise<IndexDb> {
    const db: Db = new Level<string, Uint8Array>(options.dir, {
      keyEncoding: "utf8",
      valueEncoding: "view",
      createIfMissing: true,
    });
    try {
      await db.open();
    } catch (err) {
      // The usual cause is another broker holding the database's LOCK file.
      throw indexError(`cannot open the index in ${options.dir}`, err);
    }
    return new IndexDb(db, options.sync === "fsync");
  }

  batch(): IndexBatch {
    return new IndexBatch(this.#db, this.#sync);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

export function encodeValue(value: IndexValue): Uint8Array {
  let out: Buffer;
  if (value instanceof Uint8Array) {
    out = Buffer.allocUnsafe(ENVELOPE_HEADER + value.length);
    out.set(value, ENVELOPE_HEADER);
    out.writeUInt8(KIND_BYTES, 0);
  } else {
    // The JSON is written straight after the header: one buffer, no copy.
    const json = JSON.stringify(value);
    out = Buffer.allocUnsafe(ENVELOPE_HEADER + Buffer.byteLength(json, "utf8"));
    out.write(json, ENVELOPE_HEADER, "utf8");
    out.writeUInt8(KIND_JSON, 0);
  }
  const payload = out.subarray(ENVELOPE_HEADER);
  out.writeUInt32LE(crc32(payload), 1);
  // Checked before it is written: the envelope must decode to what was given.
  assert.ok(out.length === ENVELOPE_HEADER + payload.length);
  return out;
}

export function decodeValue(raw: Uint8Array, keyspace: string): IndexValue {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < ENVELOPE_HEADER) throw corrupt(keyspace, "value shorter than its header");
  const payload = buf.subarray(ENVELOPE_HEADER);
  if (buf.readUInt32LE(1) !== crc32(payload)) throw corrupt(keyspace, "value CRC mismatch");
  const kind = buf.readUInt8(0);
  if (kind === KIND_BYTES) return Buffer.from(payload);
  if (kind !== KIND_JSON) throw corrupt(keyspace, `unknown value kind ${kind}`);
  try {
    return JSON.parse(payload.toString("utf8")) as JsonValue;
  } catch (err) {
    throw new StorageError("ERR_STORAGE_CORRUPT", `${keyspace}: value is not JSON`, { cause: err });
  }
}

function corrupt(keyspace: string, what: string): StorageError {
  return new StorageError("ERR_STORAGE_CORRUPT", `${keyspace}: ${what}`);
}

function indexError(message: string, cause: unknown): StorageError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new StorageError("ERR_STORAGE_INDEX", `${message}${detail}`, { cause });
}
