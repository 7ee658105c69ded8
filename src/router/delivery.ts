// Delivery from the commit log to one session: retained messages owed by a
// SUBSCRIBE first, then the log from the session's cursor, in log order, one
// copy per offset at the highest QoS granted among the session's matching
// filters. Stops when the inflight window is full, the link's socket buffer
// is full, or `maxOutgoingPacketCount` packets were handed over this turn
// (then it continues on the next turn).
//
// For a persistent session, the packet ids assigned in a round and the
// advanced cursor are written to the index first (session-store.ts); the
// round's publishes go out, in order, once that write is durable.
//
// Who calls it: the router (pump). Reads come from the log's memory cache;
// when a record is only on disk the read is asynchronous and delivery resumes
// when it completes.

import type { LogRecord, RecordInput } from "../../storage/index.ts";
import type { Logger } from "../log.ts";
import { decodeBody, type OutgoingPublish, type Qos } from "./message.ts";
import type { Session, SessionLink } from "./session.ts";
import type { SessionStore } from "./session-store.ts";

/** Bytes asked of one asynchronous log read for a session that is behind. */
export const READ_AHEAD_BYTES = 64 * 1024;

/** The part of the storage engine's CommitLog the router uses (storage/API.md). */
export interface RouterLog {
  append(records: RecordInput[]): number;
  commit(): Promise<number>;
  read(fromOffset: number, maxBytes: number): Promise<LogRecord[]>;
  readCached(fromOffset: number, maxBytes: number): LogRecord[] | undefined;
  readonly startOffset: number;
  readonly committedOffset: number;
  readonly nextOffset: number;
}

export interface PumpContext {
  log: RouterLog;
  logger: Logger;
  store: SessionStore | undefined;
  maxInflight: number;
  maxOutgoingPacketCount: number;
  /** Pump this session again later (after an async read, a write, or on the next turn). */
  repump: (session: Session) => void;
  fail: (error: unknown) => void;
}

/** Records read from disk for a session that is behind, consumed in order. */
const readBuffers = new WeakMap<Session, LogRecord[]>();
/** Sessions with a next-turn pump already scheduled. */
const scheduled = new WeakSet<Session>();

/** The record at `offset` if it is at hand, the first record after a gap, or undefined. */
function recordAt(session: Session, offset: number, log: RouterLog): LogRecord | undefined {
  const buffer = readBuffers.get(session);
  if (buffer !== undefined) {
    while (buffer.length > 0 && (buffer[0] as LogRecord).offset < offset) buffer.shift();
    if (buffer.length > 0) return buffer[0];
    readBuffers.delete(session);
  }
  return log.readCached(offset, 1)?.[0];
}

export function pumpSession(session: Session, ctx: PumpContext): void {
  const link = session.link;
  if (link === undefined || session.reading) return;
  const persist = ctx.store !== undefined && session.persistent;
  const out: OutgoingPublish[] = [];
  const budgetLeft = collect(session, link, ctx, persist, out);
  send(session, link, out, persist, ctx);
  if (budgetLeft === 0 && !scheduled.has(session)) {
    scheduled.add(session);
    setImmediate(() => {
      scheduled.delete(session);
      ctx.repump(session);
    });
  }
}

/** Picks what to send this round; returns the budget left (0: more may be waiting). */
function collect(
  session: Session,
  link: SessionLink,
  ctx: PumpContext,
  persist: boolean,
  out: OutgoingPublish[],
): number {
  let budget = ctx.maxOutgoingPacketCount;
  const roomFor = (qos: Qos): boolean => qos === 0 || session.inflight.size < ctx.maxInflight;
  const writable = (): boolean =>
    link.writable && session.pendingSends < ctx.maxOutgoingPacketCount;
  const emit = (publish: OutgoingPublish, offset: number | null): void => {
    if (publish.qos > 0) {
      publish.packetId = session.allocatePacketId();
      const entry = { publish, offset, phase: "publish" as const, seq: session.nextSeq++ };
      session.inflight.set(publish.packetId, entry);
      if (persist) ctx.store?.putOutbound(session.clientId, publish.packetId, entry);
    }
    out.push(publish);
    budget--;
  };

  while (budget > 0 && writable() && session.retainedQueue.length > 0) {
    const publish = session.retainedQueue[0] as OutgoingPublish;
    if (!roomFor(publish.qos)) return budget;
    session.retainedQueue.shift();
    emit(publish, null);
  }
  if (session.retainedQueue.length > 0) return budget;

  const now = Date.now();
  while (budget > 0 && writable()) {
    // The window must have room before looking further: QoS 0 messages wait behind a
    // full window too, so that delivery stays in log order.
    if (!roomFor(1)) return budget;
    const next = session.nextDelivery(ctx.log.committedOffset);
    if (next === undefined) return budget;
    const record = recordAt(session, next.offset, ctx.log);
    if (record === undefined) {
      readAsync(session, next.offset, ctx);
      return budget;
    }
    if (record.offset > next.offset) {
      // The log no longer holds these offsets (budget deletion or a damaged record).
      ctx.logger.warn(
        {
          event: "message.skipped",
          client_id: session.clientId,
          offset: next.offset,
          skipped: record.offset - next.offset,
        },
        "messages skipped: no longer in the log",
      );
      session.cursor = record.offset;
      continue;
    }
    session.cursor = next.offset + 1;
    if (record.expiresAtMs !== null && record.expiresAtMs <= now) continue;
    const { payload, properties } = decodeBody(record.body);
    emit(
      {
        topic: record.topic,
        qos: Math.min(record.qos, next.grantedQos) as Qos,
        // [MQTT-3.3.1-9] Messages forwarded to an existing subscription carry RETAIN 0.
        retain: false,
        dup: false,
        payload,
        ...(properties === undefined ? {} : { properties }),
      },
      record.offset,
    );
  }
  return budget;
}

/** Sends a round now, or, for a persistent session, once its index write is durable. */
function send(
  session: Session,
  link: SessionLink,
  out: OutgoingPublish[],
  persist: boolean,
  ctx: PumpContext,
): void {
  if (out.length === 0) return;
  const store = ctx.store;
  if (!persist || store === undefined) {
    for (const publish of out) link.sendPublish(publish);
    return;
  }
  store.putCursor(session.clientId, session.cursor);
  session.stored = true;
  // A round of QoS 0 messages needs no durable state first (after a kill they may come
  // again, which QoS 0 allows); it may go now unless an earlier round is still waiting.
  if (session.pendingSends === 0 && out.every((publish) => publish.qos === 0)) {
    for (const publish of out) link.sendPublish(publish);
    return;
  }
  session.pendingSends += out.length;
  store.flush().then(
    () => {
      session.pendingSends -= out.length;
      // A link that went away in the meantime gets these as DUP resends on reconnect.
      if (session.link !== link) return;
      for (const publish of out) link.sendPublish(publish);
      ctx.repump(session);
    },
    () => {
      // The store reported the failure as fatal; nothing is sent after it.
      session.pendingSends -= out.length;
    },
  );
}

function readAsync(session: Session, offset: number, ctx: PumpContext): void {
  session.reading = true;
  ctx.log.read(offset, READ_AHEAD_BYTES).then(
    (records) => {
      session.reading = false;
      if (records.length > 0) {
        readBuffers.set(session, records);
        ctx.repump(session);
      }
    },
    (error: unknown) => {
      session.reading = false;
      ctx.fail(error);
    },
  );
}
