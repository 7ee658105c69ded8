// Start-up: turns the sessions stored in the index (written ahead by
// session-store.ts) back into Session objects, and rebuilds the filter indices of their subscriptions by
// scanning the log (the log is the truth; filter indices are never stored).
//
// Who calls it: Router.restore, once, before any listener accepts.

import type { IndexDb } from "../../storage/index.ts";
import type { RouterLog } from "./delivery.ts";
import { decodeBody, type OutgoingPublish, originOf } from "./message.ts";
import type { StoredInflight, StoredSession } from "./persistence.ts";
import { NEVER_EXPIRES_SEC, Session } from "./session.ts";
import { INBOUND_CHECKPOINT, type SessionStore } from "./session-store.ts";
import type { SubscriptionTable } from "./subscription-table.ts";

/** Bytes asked of each log read while scanning. */
export const SCAN_READ_BYTES = 1024 * 1024;

/**
 * The restored session and how long it has left offline; undefined when it
 * has expired. Inflight messages from the log are read back by offset; one
 * the log no longer holds is reported to `onLost` and dropped (a PUBREL that
 * was owed is still owed: only its packet id matters).
 */
export async function sessionFromStore(
  s: StoredSession,
  log: RouterLog,
  table: SubscriptionTable,
  nowMs: number,
  onLost: (packetId: number) => void,
): Promise<{ session: Session; expiresInMs: number } | undefined> {
  const expiresInMs = s.disconnectedAtMs + s.expiryIntervalSec * 1000 - nowMs;
  const expires = s.expiryIntervalSec !== 0 && s.expiryIntervalSec !== NEVER_EXPIRES_SEC;
  if (expires && expiresInMs <= 0) return undefined;
  // A cursor is never trusted beyond the log: clamp it into what the log holds.
  const cursor = Math.min(Math.max(s.cursor, log.startOffset), log.committedOffset);
  const session = new Session(s.clientId, cursor, true, s.expiryIntervalSec);
  session.disconnectedAtMs = s.disconnectedAtMs;
  for (const sub of s.subscriptions) table.add(session, sub.filter, sub.qos, sub.sinceOffset);
  session.stored = true;
  for (const entry of s.inflight) {
    const publish = entry.publish ?? (await publishFromLog(entry, log));
    if (publish === undefined) {
      onLost(entry.packetId);
      continue;
    }
    session.inflight.set(entry.packetId, {
      publish,
      offset: entry.offset,
      phase: entry.phase,
      seq: entry.seq,
    });
    session.nextSeq = Math.max(session.nextSeq, entry.seq + 1);
  }
  for (const { packetId, offset } of s.inboundQos2) {
    // The id is written beside the log append, so a kill can keep the id of a
    // message the log lost: then the id is dropped and the publisher's resend
    // is stored ([MQTT-4.3.3-9] still holds for every message the log kept).
    if (offset !== null && offset >= log.nextOffset) continue;
    session.inboundQos2.set(packetId, Promise.resolve());
  }
  return { session, expiresInMs };
}

/** An unacknowledged message rebuilt from its log record, to be resent with DUP. */
async function publishFromLog(
  entry: StoredInflight,
  log: RouterLog,
): Promise<OutgoingPublish | undefined> {
  const offset = entry.offset;
  const record = offset === null ? undefined : (await log.read(offset, 1))[0];
  if (record === undefined || record.offset !== offset) {
    if (entry.phase !== "pubrel") return undefined;
    // The log lost the message, but the PUBREL owed for it needs only the packet id.
    return { topic: "", qos: 2, retain: false, dup: true, payload: Buffer.alloc(0) };
  }
  const { payload, properties } = decodeBody(record.body);
  return {
    topic: record.topic,
    qos: entry.qos,
    retain: false,
    dup: true,
    payload,
    packetId: entry.packetId,
    ...(properties === undefined ? {} : { properties }),
  };
}

/** Pushes every committed offset from `from` on into the indices of the filters it matches. */
export async function rebuildFilterIndices(
  log: RouterLog,
  table: SubscriptionTable,
  from: number,
): Promise<void> {
  const end = log.committedOffset;
  let next = Math.max(from, log.startOffset);
  while (next < end) {
    const records = await log.read(next, SCAN_READ_BYTES);
    const last = records[records.length - 1];
    if (last === undefined) break;
    for (const record of records) {
      if (record.offset >= end) break;
      for (const index of table.match(record.topic)) index.push(record.offset);
    }
    next = last.offset + 1;
  }
}

/**
 * Inbound QoS 2 ids a kill kept out of the index: their messages were
 * committed to the log, but the index batch holding their ids was not
 * written. Every such message lies at or after the checkpoint of the last
 * index batch written (see SessionStore), and carries its origin (message.ts).
 * Found ids are set on their sessions and queued for the index.
 */
export async function recoverInboundIds(
  index: IndexDb,
  log: RouterLog,
  sessions: ReadonlyMap<string, Session>,
  store: SessionStore | undefined,
): Promise<void> {
  const checkpoint = await index.meta.get([INBOUND_CHECKPOINT]);
  if (typeof checkpoint !== "number") return;
  let from = Math.max(checkpoint, log.startOffset);
  while (from < log.committedOffset) {
    const records = await log.read(from, SCAN_READ_BYTES);
    if (records.length === 0) break;
    for (const record of records) {
      const origin = record.qos === 2 ? originOf(record.body) : undefined;
      const session = origin === undefined ? undefined : sessions.get(origin.clientId);
      if (origin === undefined || session === undefined) continue;
      if (session.inboundQos2.has(origin.packetId)) continue;
      session.inboundQos2.set(origin.packetId, Promise.resolve());
      store?.putInbound(origin.clientId, origin.packetId, record.offset);
    }
    from = (records.at(-1)?.offset as number) + 1;
  }
}
