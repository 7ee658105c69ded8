// Start-up: turns the sessions stored in the index (written ahead by
// session-store.ts) back into Session objects, with their subscriptions (and
// so their shared groups) and wills, gives each shared group its stored
// position, and rebuilds the filter indices of their subscriptions by
// scanning the log (the log is the truth; filter indices are never stored).
//
// Who calls it: Router.restore (restoreState), once, before any listener accepts.

import type { IndexDb } from "../../storage/index.ts";
import type { Logger } from "../log.ts";
import type { RouterLog } from "./delivery.ts";
import { decodeBody, type OutgoingPublish, originOf } from "./message.ts";
import { outgoingProperties, resendOf } from "./outgoing.ts";
import {
  loadGroups,
  loadSessions,
  type StoredInflight,
  type StoredSession,
} from "./persistence.ts";
import { NEVER_EXPIRES_SEC, Session } from "./session.ts";
import { INBOUND_CHECKPOINT, type SessionStore } from "./session-store.ts";
import type { GroupRecord } from "./shared-group.ts";
import type { SubscriptionTable } from "./subscription-table.ts";
import type { Will, WillKeeper } from "./will-timer.ts";

/** Bytes asked of each log read while scanning. */
export const SCAN_READ_BYTES = 1024 * 1024;

export interface RestoreDeps {
  index: IndexDb;
  log: RouterLog;
  logger: Logger;
  store: SessionStore | undefined;
  sessions: Map<string, Session>;
  table: SubscriptionTable;
  wills: WillKeeper;
  /** Arms the expiry timer of a restored offline session. */
  armExpiry: (session: Session, remainingMs: number) => void;
}

/**
 * Loads the stored sessions and shared groups, rebuilds the filter indices of
 * their subscriptions from the log (the log is the truth; indices are never
 * stored), recovers inbound QoS 2 ids, then arms expiry and will timers (a
 * will whose time passed while the broker was down is published now, after
 * the indices are rebuilt). Sessions that expired while the broker was down
 * are deleted; their wills are published.
 */
export async function restoreState(deps: RestoreDeps): Promise<void> {
  const { index, log, store, table } = deps;
  const stored = await loadSessions(index);
  const groupRecords = await loadGroups(index);
  const now = Date.now();
  let from = Number.POSITIVE_INFINITY;
  const expiries: Array<[Session, number]> = [];
  const endedWills: Array<[string, Will]> = [];
  for (const s of stored) {
    const restored = await sessionFromStore(s, log, table, now, (id) => {
      deps.logger.warn(
        { event: "session.inflight_lost", client_id: s.clientId, packet_id: id },
        "inflight message lost",
      );
      store?.delOutbound(s.clientId, id);
    });
    if (restored === undefined) {
      // Expired while the broker was down: its stored state goes too, its will is due.
      store?.forget(s.clientId);
      if (s.will !== undefined) endedWills.push([s.clientId, s.will]);
      continue;
    }
    deps.sessions.set(s.clientId, restored.session);
    expiries.push([restored.session, restored.expiresInMs]);
    from = Math.min(from, restored.session.cursor);
  }
  const groups = restoreGroups(table, groupRecords, log);
  for (const key of groups.orphans) store?.delGroup(key);
  for (const group of table.groups()) store?.putGroup(group);
  await rebuildFilterIndices(log, table, Math.min(from, groups.from));
  await recoverInboundIds(index, log, deps.sessions, store);
  await store?.flush();
  for (const [session, expiresInMs] of expiries) {
    deps.armExpiry(session, expiresInMs);
    deps.wills.armRestored(session, now);
  }
  for (const [clientId, will] of endedWills) deps.wills.publishStored(clientId, will);
}

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
  session.will = s.will;
  for (const { filter, sinceOffset, ...options } of s.subscriptions) {
    table.add(session, filter, options, sinceOffset);
  }
  session.stored = true;
  for (const entry of s.inflight) {
    const publish =
      entry.publish === undefined
        ? await publishFromLog(entry, log, nowMs)
        : resendOf(entry.publish, entry.expiresAtMs, nowMs);
    if (publish === undefined) {
      onLost(entry.packetId);
      continue;
    }
    session.inflight.set(entry.packetId, {
      publish,
      offset: entry.offset,
      phase: entry.phase,
      seq: entry.seq,
      expiresAtMs: entry.expiresAtMs,
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
  nowMs: number,
): Promise<OutgoingPublish | undefined> {
  const offset = entry.offset;
  const record = offset === null ? undefined : (await log.read(offset, 1))[0];
  if (record === undefined || record.offset !== offset) {
    if (entry.phase !== "pubrel") return undefined;
    // The log lost the message, but the PUBREL owed for it needs only the packet id.
    return { topic: "", qos: 2, retain: false, dup: true, payload: Buffer.alloc(0) };
  }
  entry.expiresAtMs = record.expiresAtMs;
  const { payload, properties } = decodeBody(record.body);
  const outgoing = outgoingProperties(
    { properties, expiresAtMs: record.expiresAtMs, subscriptionIds: entry.subscriptionIds },
    nowMs,
  );
  return {
    topic: record.topic,
    qos: entry.qos,
    retain: entry.retain,
    dup: true,
    payload,
    packetId: entry.packetId,
    ...(outgoing === undefined ? {} : { properties: outgoing }),
  };
}

/**
 * Gives every shared group rebuilt from its members' subscriptions its
 * stored position (a group without one starts where its first member
 * subscribed); returns the keys of stored groups that have no member any
 * more (their records are to be deleted) and the lowest group cursor.
 */
export function restoreGroups(
  table: SubscriptionTable,
  records: ReadonlyMap<string, GroupRecord>,
  log: RouterLog,
): { orphans: string[]; from: number } {
  let from = Number.POSITIVE_INFINITY;
  for (const group of table.groups()) {
    const record = records.get(group.key);
    if (record !== undefined) group.restore(record, log.startOffset, log.committedOffset);
    from = Math.min(from, group.cursor);
  }
  const orphans = [...records.keys()].filter((key) => table.group(key) === undefined);
  return { orphans, from };
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
