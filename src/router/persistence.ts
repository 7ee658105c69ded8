// What the router keeps in the storage index, and how it is read back.
//
// - Retained messages are written through: a retained publish is acknowledged
//   only after its index write, so it survives a kill (DESIGN.md's contract).
// - Persistent sessions (subscriptions with their options, cursor, inflight
//   messages, inbound QoS 2 packet ids, the will) are written ahead by
//   session-store.ts and read back here at start (loadSessions).
// - Shared groups' positions (shared-group.ts) likewise (loadGroups).
//
// Who calls it: the router (retained writes), session-store.ts (value
// formats) and Router.restore (at start). Values are JSON; a message body is
// the router's body format (message.ts) in base64.

import assert from "node:assert/strict";
import type { IndexDb, JsonValue } from "../../storage/index.ts";
import { decodeBody, encodeBody, type Message, type OutgoingPublish, type Qos } from "./message.ts";
import type { SubscriptionOptions } from "./session.ts";
import { GROUP_OWNER, type GroupRecord } from "./shared-group.ts";
import type { Will } from "./will-timer.ts";

/** The one cursor a session holds in the `cursors` keyspace. */
export const SESSION_CURSOR = "session";

export interface StoredSubscription extends SubscriptionOptions {
  filter: string;
  sinceOffset: number;
}

export interface StoredInflight {
  seq: number;
  packetId: number;
  phase: "publish" | "pubrel";
  /** A message from the log: its offset and the QoS it was sent with (read back at start). */
  offset: number | null;
  qos: Qos;
  /** The RETAIN flag and subscription identifiers it was sent with (a message from the log). */
  retain: boolean;
  subscriptionIds: number[];
  expiresAtMs: number | null;
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
  /** The will not yet published (will-timer.ts). */
  will: Will | undefined;
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
      will: willFromJson(json.will, clientId),
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
      sinceOffset: Number(json.sinceOffset ?? 0),
      ...subscriptionOptionsFromJson(json),
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
      retain: json.retain === true,
      subscriptionIds: numbers(json.subscriptionIds),
      expiresAtMs: typeof json.expiresAtMs === "number" ? json.expiresAtMs : null,
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

/** The stored form of a subscription's options (beside its sinceOffset). */
export function subscriptionOptionsToJson(options: SubscriptionOptions): Record<string, JsonValue> {
  return {
    qos: options.qos,
    noLocal: options.noLocal,
    retainAsPublished: options.retainAsPublished,
    retainHandling: options.retainHandling,
    subscriptionId: options.subscriptionId ?? null,
  };
}

/** Subscriptions stored before options existed read back with the MQTT 3.1.1 defaults. */
function subscriptionOptionsFromJson(json: Record<string, JsonValue>): SubscriptionOptions {
  const rh = json.retainHandling;
  return {
    qos: asQos(json.qos),
    noLocal: json.noLocal === true,
    retainAsPublished: json.retainAsPublished === true,
    retainHandling: rh === 1 || rh === 2 ? rh : 0,
    subscriptionId: typeof json.subscriptionId === "number" ? json.subscriptionId : undefined,
  };
}

function numbers(value: JsonValue | undefined): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === "number") : [];
}

function willFromJson(value: JsonValue | undefined, clientId: string): Will | undefined {
  if (value === undefined || value === null) return undefined;
  const json = asObject(value, "stored will");
  return {
    message: { ...messageFromJson(json), expiresAtMs: null, publisherId: clientId },
    delaySec: Number(json.delaySec ?? 0),
    expirySec: typeof json.expirySec === "number" ? json.expirySec : undefined,
  };
}

/** Every shared group's stored position, by its filter (`$share/<group>/<filter>`). */
export async function loadGroups(index: IndexDb): Promise<Map<string, GroupRecord>> {
  const out = new Map<string, GroupRecord>();
  for await (const [[, key], value] of index.cursors.entries([GROUP_OWNER])) {
    const json = asObject(value, "stored shared group");
    out.set(key, { cursor: Number(json.cursor ?? 0), pending: numbers(json.pending) });
  }
  return out;
}
