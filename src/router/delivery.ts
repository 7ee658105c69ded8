// Delivery from the commit log to one session: retained messages owed by a
// SUBSCRIBE first, then the log from the session's cursor, in log order, one
// copy per offset at the highest QoS granted among the session's matching
// non-shared subscriptions, with all their subscription identifiers, the
// RETAIN flag kept if one of them is Retain As Published, skipped when every
// one of them is No Local and the session published it, and the message
// expiry counted down (an expired message is dropped). Stops when the inflight window is full, the link's socket buffer
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
import type { OutgoingPublish, Qos } from "./message.ts";
import { isExpired, outgoingPublish } from "./outgoing.ts";
import { type DecodedMessage, decodeMessage, type RecentMessages } from "./recent-messages.ts";
import type {
  InflightEntry,
  RetainedDelivery,
  Session,
  SessionLink,
  Subscription,
} from "./session.ts";
import type { SessionStore } from "./session-store.ts";

/** Bytes asked of one asynchronous log read for a session that is behind. */
export const READ_AHEAD_BYTES = 64 * 1024;

/** The part of the storage engine's CommitLog the router uses (storage/API.md). */
export interface RouterLog {
  append(records: RecordInput[]): number;
  commit(): Promise<number>;
  commitNow(): boolean;
  read(fromOffset: number, maxBytes: number): Promise<LogRecord[]>;
  readCached(fromOffset: number, maxBytes: number): LogRecord[] | undefined;
  readonly startOffset: number;
  readonly committedOffset: number;
  readonly nextOffset: number;
}

export interface PumpContext {
  log: RouterLog;
  /** Recently delivered messages, decoded (and encoded) once for every session. */
  recent: RecentMessages;
  logger: Logger;
  store: SessionStore | undefined;
  maxOutgoingPacketCount: number;
  /** Pump this session again later (after an async read, a write, or on the next turn). */
  repump: (session: Session) => void;
  fail: (error: unknown) => void;
}

/** A reader of the log: a session, or a shared group (shared-delivery.ts). */
export interface LogReader {
  /** True while an asynchronous log read for this reader is in progress. */
  reading: boolean;
}

/**
 * Records read from disk for a reader that is behind, consumed in order;
 * `from` is the offset the read asked for (a record after it is a gap).
 */
const readBuffers = new WeakMap<LogReader, { from: number; records: LogRecord[] }>();
/** Sessions with a next-turn pump already scheduled. */
const scheduled = new WeakSet<Session>();

/**
 * The record at `offset` if it is at hand, the first record after a gap, or
 * undefined (then readAsync). Offsets are asked in ascending order, except
 * that a shared group may ask for one below what its last read asked for
 * (an offset handed out again): the buffer does not answer that one.
 */
export function recordAt(reader: LogReader, offset: number, log: RouterLog): LogRecord | undefined {
  const buffer = readBuffers.get(reader);
  if (buffer !== undefined && offset >= buffer.from) {
    const records = buffer.records;
    while (records.length > 0 && (records[0] as LogRecord).offset < offset) records.shift();
    if (records.length > 0) return records[0];
    readBuffers.delete(reader);
  }
  return log.readCached(offset, 1)?.[0];
}

/**
 * The message at `offset`, decoded, if it is at hand; the first record after
 * a gap (its offset is then above `offset`); or undefined (then readAsync).
 * Messages from the log's memory cache are decoded once for all sessions
 * (`recent`); records read from disk for one lagging reader are decoded for
 * it alone, so that the ring never keeps a disk-loaded segment's buffer alive.
 */
export function messageAt(
  reader: LogReader,
  offset: number,
  log: RouterLog,
  recent: RecentMessages,
): DecodedMessage | LogRecord | undefined {
  const buffer = readBuffers.get(reader);
  if (buffer !== undefined && offset >= buffer.from) return recordAt(reader, offset, log);
  const hit = recent.get(offset);
  if (hit !== undefined) return hit;
  const record = log.readCached(offset, 1)?.[0];
  return record === undefined || record.offset !== offset ? record : recent.add(record);
}

/** A message decoded for delivery: as it is when it came from the ring, else decoded now. */
export function decoded(message: DecodedMessage | LogRecord): DecodedMessage {
  return "body" in message ? decodeMessage(message) : message;
}

/** The subscription identifiers of subscriptions without one (shared, never added to). */
const NO_IDS: number[] = Object.freeze([]) as unknown as number[];

function anyNoLocal(subscriptions: readonly Subscription[]): boolean {
  for (const sub of subscriptions) if (sub.noLocal) return true;
  return false;
}

/** One delivery decision: the message, its QoS and flags for this session, or undefined to skip it. */
export function deliveryOf(
  session: Session,
  message: DecodedMessage,
  subscriptions: readonly Subscription[],
  nowMs: number,
): OutgoingPublish | undefined {
  // [MQTT-3.3.2-5] An expired message is not sent to a subscriber it has not reached.
  if (isExpired(message.expiresAtMs, nowMs)) return undefined;
  // [MQTT-3.8.3-3] No Local: not sent back to the client that published it.
  const own = anyNoLocal(subscriptions) && message.publisherId === session.clientId;
  const subs = own ? subscriptions.filter((s) => !s.noLocal) : subscriptions;
  if (subs.length === 0) return undefined;
  let granted: Qos = 0;
  let ids: number[] = NO_IDS;
  for (const sub of subs) {
    if (sub.qos > granted) granted = sub.qos;
    if (sub.subscriptionId === undefined) continue;
    if (ids === NO_IDS) ids = [];
    ids.push(sub.subscriptionId);
  }
  const publish = outgoingPublish(
    {
      topic: message.topic,
      // [MQTT-3.8.4-8] The minimum of the published QoS and the granted QoS.
      qos: Math.min(message.qos, granted) as Qos,
      // [MQTT-3.3.1-12] RETAIN 0 on forwarded messages, unless Retain As Published [MQTT-3.3.1-13].
      retain: message.retain && subs.some((s) => s.retainAsPublished),
      payload: message.payload,
      properties: message.properties,
      expiresAtMs: message.expiresAtMs,
      // [MQTT-3.3.4-3] [MQTT-3.3.4-4] Every matching subscription's identifier, in one copy.
      subscriptionIds: ids,
    },
    nowMs,
  );
  // The link uses the shared encoding only while the properties are the message's own
  // object: subscription identifiers or an expiry countdown make a new one (outgoing.ts).
  if (message.templates !== undefined) publish.templates = message.templates;
  return publish;
}

/** Adds a QoS 1/2 publish to the session's inflight window with a fresh packet id. */
export function addInflight(
  session: Session,
  publish: OutgoingPublish,
  offset: number | null,
  expiresAtMs: number | null,
): InflightEntry {
  publish.packetId = session.allocatePacketId();
  const entry: InflightEntry = {
    publish,
    offset,
    phase: "publish",
    seq: session.nextSeq++,
    expiresAtMs,
  };
  session.inflight.set(publish.packetId, entry);
  return entry;
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
  const roomFor = (qos: Qos): boolean => qos === 0 || session.inflightCount < session.maxInflight;
  const writable = (): boolean =>
    link.writable && session.pendingSends < ctx.maxOutgoingPacketCount;
  const emit = (publish: OutgoingPublish, offset: number | null, expiresAtMs: number | null) => {
    if (publish.qos > 0) {
      const entry = addInflight(session, publish, offset, expiresAtMs);
      if (persist)
        ctx.store?.putOutbound(session.clientId, entry.publish.packetId as number, entry);
    }
    out.push(publish);
    budget--;
  };

  while (budget > 0 && writable() && session.retainedQueuedCount > 0) {
    const { publish, expiresAtMs } = session.retainedQueue[0] as RetainedDelivery;
    if (isExpired(expiresAtMs, Date.now())) {
      session.retainedQueue.shift();
      continue;
    }
    if (!roomFor(publish.qos)) return budget;
    session.retainedQueue.shift();
    emit(publish, null, expiresAtMs);
  }
  if (session.retainedQueuedCount > 0) return budget;

  const now = Date.now();
  while (budget > 0 && writable()) {
    // The window must have room before looking further: QoS 0 messages wait behind a
    // full window too, so that delivery stays in log order.
    if (!roomFor(1)) return budget;
    const next = session.nextDelivery(ctx.log.committedOffset);
    if (next === undefined) return budget;
    const record = messageAt(session, next.offset, ctx.log, ctx.recent);
    if (record === undefined) {
      readAsync(session, next.offset, ctx, () => ctx.repump(session));
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
    const publish = deliveryOf(session, decoded(record), next.subscriptions, now);
    if (publish !== undefined) emit(publish, record.offset, record.expiresAtMs);
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

/** Reads from disk for a reader that is behind; `then` runs once the records are at hand. */
export function readAsync(
  reader: LogReader,
  offset: number,
  ctx: Pick<PumpContext, "log" | "fail">,
  then: () => void,
): void {
  reader.reading = true;
  ctx.log.read(offset, READ_AHEAD_BYTES).then(
    (records) => {
      reader.reading = false;
      if (records.length > 0) {
        readBuffers.set(reader, { from: offset, records });
        then();
      }
    },
    (error: unknown) => {
      reader.reading = false;
      ctx.fail(error);
    },
  );
}
