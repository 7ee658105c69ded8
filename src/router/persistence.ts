// What the router keeps in the storage index, and how it is read back.
//
// - Retained messages are written through: a retained publish is acknowledged
//   only after its index write, so it survives a kill (DESIGN.md's contract).
// - Persistent sessions (subscriptions, cursor, inflight messages, inbound
//   QoS 2 packet ids) are written as a snapshot at graceful stop and consumed
//   (read, then deleted) at start. A killed broker therefore loses them, but
//   can never resurrect a stale snapshot: write-ahead of session state on
//   SUBACK / ack is the next step (see README "Not yet").
//
// Who calls it: the router (retained writes, snapshot at close) and
// broker.ts through Router.restore (at start). Value formats are JSON; a
// message body is the router's body format (message.ts) in base64.

import assert from "node:assert/strict";
import type { IndexDb, JsonValue } from "../../storage/index.ts";
import { decodeBody, encodeBody, type Message, type OutgoingPublish, type Qos } from "./message.ts";
import type { Session } from "./session.ts";

/** The one cursor a session holds in the `cursors` keyspace. */
const SESSION_CURSOR = "session";

export interface StoredSubscription {
  filter: string;
  qos: Qos;
  sinceOffset: number;
}

export interface StoredInflight {
  seq: number;
  packetId: number;
  phase: "publish" | "pubrel";
  publish: OutgoingPublish;
}

export interface StoredSession {
  clientId: string;
  expiryIntervalSec: number;
  disconnectedAtMs: number;
  cursor: number;
  subscriptions: StoredSubscription[];
  inflight: StoredInflight[];
  inboundQos2: number[];
}

function asObject(value: unknown, what: string): Record<string, JsonValue> {
  assert.ok(typeof value === "object" && value !== null && !ArrayBuffer.isView(value), what);
  return value as Record<string, JsonValue>;
}

function asQos(value: unknown): Qos {
  assert.ok(value === 0 || value === 1 || value === 2, "stored QoS");
  return value;
}

function messageToJson(m: {
  topic: string;
  qos: Qos;
  retain: boolean;
  payload: Buffer;
  properties?: Message["properties"];
}): Record<string, JsonValue> {
  return {
    topic: m.topic,
    qos: m.qos,
    retain: m.retain,
    body: encodeBody(m.payload, m.properties).toString("base64"),
  };
}

function messageFromJson(value: Record<string, JsonValue>): {
  topic: string;
  qos: Qos;
  retain: boolean;
  payload: Buffer;
  properties?: Message["properties"];
} {
  assert.ok(typeof value.topic === "string" && typeof value.body === "string", "stored message");
  const { payload, properties } = decodeBody(Buffer.from(value.body, "base64"));
  return {
    topic: value.topic,
    qos: asQos(value.qos),
    retain: value.retain === true,
    payload,
    ...(properties === undefined ? {} : { properties }),
  };
}

/** Stores or clears (empty payload) a retained message. */
export async function persistRetained(index: IndexDb, message: Message): Promise<void> {
  const batch = index.batch();
  if (message.payload.length === 0) batch.del(index.retained, [message.topic]);
  else {
    batch.put(index.retained, [message.topic], {
      ...messageToJson(message),
      expiresAtMs: message.expiresAtMs,
    });
  }
  await batch.write();
}

export async function loadRetained(index: IndexDb): Promise<Message[]> {
  const out: Message[] = [];
  for await (const [, value] of index.retained.entries()) {
    const json = asObject(value, "stored retained message");
    const expiresAtMs = typeof json.expiresAtMs === "number" ? json.expiresAtMs : null;
    out.push({ ...messageFromJson(json), expiresAtMs });
  }
  return out;
}

/** Writes every persistent session in one atomic batch (graceful stop). */
export async function writeSnapshot(
  index: IndexDb,
  sessions: Iterable<Session>,
  nowMs: number,
): Promise<number> {
  const batch = index.batch();
  let count = 0;
  for (const s of sessions) {
    if (!s.persistent) continue;
    count++;
    batch.put(index.sessions, [s.clientId], {
      expiryIntervalSec: s.expiryIntervalSec,
      disconnectedAtMs: s.disconnectedAtMs ?? nowMs,
    });
    batch.put(index.cursors, [s.clientId, SESSION_CURSOR], s.cursor);
    for (const sub of s.subscriptions.values()) {
      batch.put(index.subscriptions, [s.clientId, sub.filter], {
        qos: sub.qos,
        sinceOffset: sub.sinceOffset,
      });
    }
    let seq = 0;
    for (const [packetId, entry] of s.inflight) {
      // `seq` keeps the send order, which the resend after a restart repeats ([MQTT-4.6.0-1]).
      batch.put(index.outbound, [s.clientId, packetId], {
        seq: seq++,
        phase: entry.phase,
        ...messageToJson(entry.publish),
      });
    }
    for (const packetId of s.inboundQos2.keys()) {
      batch.put(index.inbound, [s.clientId, packetId], true);
    }
  }
  await batch.write();
  return count;
}

/** Reads the snapshot and deletes it in one batch, so that it is used once. */
export async function takeSnapshot(index: IndexDb): Promise<StoredSession[]> {
  const sessions = new Map<string, StoredSession>();
  const remove = index.batch();
  for await (const [[clientId], value] of index.sessions.entries()) {
    const json = asObject(value, "stored session");
    sessions.set(clientId, {
      clientId,
      expiryIntervalSec: Number(json.expiryIntervalSec ?? 0),
      disconnectedAtMs: Number(json.disconnectedAtMs ?? 0),
      cursor: 0,
      subscriptions: [],
      inflight: [],
      inboundQos2: [],
    });
    remove.del(index.sessions, [clientId]);
  }
  for await (const [key, value] of index.cursors.entries()) {
    const s = sessions.get(key[0]);
    if (s !== undefined && key[1] === SESSION_CURSOR && typeof value === "number") s.cursor = value;
    remove.del(index.cursors, key);
  }
  for await (const [key, value] of index.subscriptions.entries()) {
    const json = asObject(value, "stored subscription");
    sessions.get(key[0])?.subscriptions.push({
      filter: key[1],
      qos: asQos(json.qos),
      sinceOffset: Number(json.sinceOffset ?? 0),
    });
    remove.del(index.subscriptions, key);
  }
  for await (const [key, value] of index.outbound.entries()) {
    const json = asObject(value, "stored inflight message");
    const publish: OutgoingPublish = { ...messageFromJson(json), dup: true, packetId: key[1] };
    sessions.get(key[0])?.inflight.push({
      seq: Number(json.seq ?? 0),
      packetId: key[1],
      phase: json.phase === "pubrel" ? "pubrel" : "publish",
      publish,
    });
    remove.del(index.outbound, key);
  }
  for await (const [key] of index.inbound.entries()) {
    sessions.get(key[0])?.inboundQos2.push(key[1]);
    remove.del(index.inbound, key);
  }
  await remove.write();
  for (const s of sessions.values()) s.inflight.sort((a, b) => a.seq - b.seq);
  return [...sessions.values()];
}
