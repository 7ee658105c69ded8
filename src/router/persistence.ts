// What the router keeps in the storage index, and how it is read back.
//
// - Retained messages are written through: a retained publish is acknowledged
//   only after its index write, so it survives a kill (DESIGN.md's contract).
// - Persistent sessions (subscriptions, cursor, inflight messages, inbound
//   QoS 2 packet ids) are written ahead by session-store.ts and read back
//   here at start (loadSessions).
//
// Who calls it: the router (retained writes), session-store.ts (value
// formats) and Router.restore (at start). Values are JSON; a message body is
// the router's body format (message.ts) in base64.

import assert from "node:assert/strict";
import type { IndexDb, JsonValue } from "../../storage/index.ts";
import { decodeBody, encodeBody, type Message, type OutgoingPublish, type Qos } from "./message.ts";

/** The one cursor a session holds in the `cursors` keyspace. */
export const SESSION_CURSOR = "session";

export interface StoredSubscription {
  filter: string;
  qos: Qos;
  sinceOffset: number;
}

export interface StoredInflight {
  seq: number;
  packetId: number;
  phase: "publish" | "pubrel";
  /** A message from the log: its offset and the QoS it was sent with (read back at start). */
  offset: number | null;
  qos: Qos;
  /** A retained message (offset null): stored whole. */
  publish: OutgoingPublish | undefined;
}

export interface StoredSession {
  clientId: string;
  expiryIntervalSec: number;
  disconnectedAtMs: number;
  cursor: number;
  subscriptions: StoredSubscription[];
  inflight: StoredInflight[];
  /** Inbound QoS 2 ids awaiting PUBREL, with the offset their message got (null: stored before offsets were kept). */
  inboundQos2: { packetId: number; offset: number | null }[];
}

function asObject(value: unknown, what: string): Record<string, JsonValue> {
  assert.ok(typeof value === "object" && value !== null && !ArrayBuffer.isView(value), what);
  return value as Record<string, JsonValue>;
}

function asQos(value: unknown): Qos {
  assert.ok(value === 0 || value === 1 || value === 2, "stored QoS");
  return value;
}

export function messageToJson(m: {
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

/** Reads every stored session with its subscriptions, cursor, inflight messages and inbound ids. */
export async function loadSessions(index: IndexDb): Promise<StoredSession[]> {
  const sessions = new Map<string, StoredSession>();
  for await (const [[clientId], value] of index.sessions.entries()) {
    const json = asObject(value, "stored session");
    sessions.set(clientId, {
      clientId,
      expiryIntervalSec: Number(json.expiryIntervalSec ?? 0),
      // A session stored while online (the broker was killed) went offline at the kill; now is close.
      disconnectedAtMs:
        typeof json.disconnectedAtMs === "number" ? json.disconnectedAtMs : Date.now(),
      cursor: 0,
      subscriptions: [],
      inflight: [],
      inboundQos2: [],
    });
  }
  for await (const [key, value] of index.cursors.entries()) {
    const s = sessions.get(key[0]);
    if (s !== undefined && key[1] === SESSION_CURSOR && typeof value === "number") s.cursor = value;
  }
  for await (const [key, value] of index.subscriptions.entries()) {
    const json = asObject(value, "stored subscription");
    sessions.get(key[0])?.subscriptions.push({
      filter: key[1],
      qos: asQos(json.qos),
      sinceOffset: Number(json.sinceOffset ?? 0),
    });
  }
  for await (const [key, value] of index.outbound.entries()) {
    const json = asObject(value, "stored inflight message");
    const offset = typeof json.offset === "number" ? json.offset : null;
    const publish: OutgoingPublish | undefined =
      offset === null ? { ...messageFromJson(json), dup: true, packetId: key[1] } : undefined;
    sessions.get(key[0])?.inflight.push({
      seq: Number(json.seq ?? 0),
      packetId: key[1],
      phase: json.phase === "pubrel" ? "pubrel" : "publish",
      offset,
      qos: asQos(json.qos),
      publish,
    });
  }
  for await (const [key, value] of index.inbound.entries()) {
    const offset =
      typeof value === "object" &&
      value !== null &&
      "offset" in value &&
      typeof value.offset === "number"
        ? value.offset
        : null;
    sessions.get(key[0])?.inboundQos2.push({ packetId: key[1], offset });
  }
  for (const s of sessions.values()) s.inflight.sort((a, b) => a.seq - b.seq);
  return [...sessions.values()];
}
