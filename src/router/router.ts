// The router: sessions, the subscription tree, routing publishes into the
// commit log and delivering from the log to sessions, retained messages and
// wills. Every PUBLISH is appended to the log; it is acknowledged and made
// visible to subscribers only once committed. Each subscribed filter has one
// FilterIndex of matching offsets shared by its subscribers; sessions hold
// cursors, never queues of messages.
//
// Who calls it: links (through the methods below) and broker.ts (construction,
// close). It never touches a socket: it calls back into links through the
// SessionLink interface. It never parses MQTT bytes.
//
// Persistence: retained messages are written through to the storage index
// before their publish is acknowledged (retained-store.ts); persistent sessions
// are written ahead (session-store.ts: subscriptions before SUBACK, inbound
// QoS 2 ids before PUBREC, packet-id assignments and cursors before the
// PUBLISH) and restored at start (restore), their filter indices rebuilt from
// the log. Not yet here: shared subscriptions, will delay, persisted wills.
//
// Invariants:
// - a message is delivered only once its offset is below the log's committed offset;
// - filter index offsets are pushed in append order, in the turn of the append.

import type { IndexDb } from "../../storage/index.ts";
import type { Logger } from "../log.ts";
import { type ReasonCodeName, topicFilterProblem } from "../protocol/index.ts";
import { pumpSession, type RouterLog } from "./delivery.ts";
import { GroupCommit } from "./group-commit.ts";
import { encodeBody, type Message, type Origin, type Qos } from "./message.ts";
import { loadSessions } from "./persistence.ts";
import { rebuildFilterIndices, recoverInboundIds, sessionFromStore } from "./restore.ts";
import { RetainedStore } from "./retained-store.ts";
import { NEVER_EXPIRES_SEC, Session, type SessionLink } from "./session.ts";
import { SessionStore } from "./session-store.ts";
import { SubscriptionTable } from "./subscription-table.ts";

/** A filter index is trimmed of offsets all its subscribers have passed once it holds this many. */
const TRIM_THRESHOLD = 4096;
/** The longest a timer may wait in Node (about 24.8 days); longer expiries are capped here. */
const MAX_TIMER_MS = 2_147_483_647;

export interface RouterOptions {
  log: RouterLog;
  /** The storage index; absent in tests of the router alone (nothing is persisted then). */
  index?: IndexDb;
  logger: Logger;
  /** Packets the router hands one link per turn before yielding the event loop. */
  maxOutgoingPacketCount: number;
  /** Called once when the log fails; the broker must stop (never ack after it). */
  onFatal: (error: unknown) => void;
}

export interface ConnectRequest {
  clientId: string;
  /** 3.1.1 CleanSession / v5 Clean Start: discard any existing session. */
  cleanStart: boolean;
  /** Whether the session outlives the connection. */
  persistent: boolean;
  /** v5 session expiry interval (seconds); 0xFFFFFFFF or a 3.1.1 persistent session: never. */
  expiryIntervalSec: number;
  will: Message | undefined;
  maxInflight: number;
  link: SessionLink;
  /** The link's logger (listener, conn), so that session lines carry the connection's fields. */
  logger: Logger;
}

export interface SubscribeRequest {
  filter: string;
  qos: Qos;
}

export type SubscribeResult = { granted: Qos } | { refused: ReasonCodeName };

export class Router {
  readonly #log: RouterLog;
  readonly #logger: Logger;
  readonly #options: RouterOptions;
  readonly #store: SessionStore | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #subscriptions = new SubscriptionTable();
  readonly #retained: RetainedStore;
  readonly #commits: GroupCommit;
  #failed: unknown;
  /** False once the broker is stopping: nothing new goes out, acknowledgements still come in. */
  #delivering = true;

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#logger = options.logger;
    this.#retained = new RetainedStore(options.index);
    this.#commits = new GroupCommit(
      options.log,
      (dirty) => {
        const sessions = new Set<Session>();
        for (const index of dirty) for (const s of index.subscribers) sessions.add(s);
        for (const session of sessions) this.pump(session);
        for (const index of dirty) this.#subscriptions.trimConsumed(index, TRIM_THRESHOLD);
      },
      (error) => this.#fail(error),
    );
    this.#store =
      options.index === undefined
        ? undefined
        : new SessionStore(
            options.index,
            (error) => this.#fail(error),
            () => this.#log.nextOffset,
          );
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Attaches a link to a new or resumed session; returns the session and the
   * session-present flag ([MQTT-3.2.2-1..3]). An older link on the same client
   * id is taken over first ([MQTT-3.1.4-2]). Atomic: no await inside.
   */
  connect(request: ConnectRequest): { session: Session; sessionPresent: boolean } {
    const log = request.logger.child({ client_id: request.clientId });
    let session = this.#sessions.get(request.clientId);
    if (session?.link !== undefined) {
      const old = session.link;
      session.link = undefined;
      old.takeOver();
      log.info({ event: "session.taken_over" }, "session taken over");
      this.#publishWill(session);
    }
    if (session !== undefined && request.cleanStart) {
      this.#removeSession(session);
      session = undefined;
    }
    const sessionPresent = session !== undefined;
    if (session === undefined) {
      session = new Session(
        request.clientId,
        this.#log.committedOffset,
        request.persistent,
        request.expiryIntervalSec,
      );
      this.#sessions.set(request.clientId, session);
      log.debug({ event: "session.created" }, "session created");
      if (request.persistent) this.#storeSession(session, null);
    } else {
      clearTimeout(session.expiryTimer);
      session.expiryTimer = undefined;
      session.persistent = request.persistent;
      session.expiryIntervalSec = request.expiryIntervalSec;
      log.debug({ event: "session.resumed" }, "session resumed");
      if (request.persistent) this.#storeSession(session, null);
    }
    session.link = request.link;
    session.disconnectedAtMs = undefined;
    session.will = request.will;
    session.maxInflight = request.maxInflight;
    return { session, sessionPresent };
  }

  /**
   * Called by the link once CONNACK is written: resends what the client has
   * not acknowledged, with DUP set ([MQTT-4.4.0-1]), then delivers from the cursor.
   */
  resume(session: Session): void {
    const link = session.link;
    if (link === undefined) return;
    for (const [packetId, entry] of session.inflight) {
      if (entry.phase === "publish") link.sendPublish({ ...entry.publish, dup: true });
      else link.sendPubrel(packetId);
    }
    this.pump(session);
  }

  /**
   * Detaches `link` from its session. `publishWill` is false only after a
   * normal DISCONNECT ([MQTT-3.14.4-3]). A non-persistent session is removed.
   */
  disconnect(session: Session, link: SessionLink, options: { publishWill: boolean }): void {
    if (session.link !== link) return; // taken over: the new link owns the session now
    session.link = undefined;
    session.disconnectedAtMs = Date.now();
    if (options.publishWill) this.#publishWill(session);
    session.will = undefined;
    if (!session.persistent) {
      this.#removeSession(session);
      return;
    }
    this.#storeSession(session, session.disconnectedAtMs);
    this.#armExpiry(session, session.expiryIntervalSec * 1000);
  }

  /** Ends an offline v5 session after its expiry interval; 3.1.1 sessions (0) never expire. */
  #armExpiry(session: Session, remainingMs: number): void {
    const expirySec = session.expiryIntervalSec;
    if (expirySec === 0 || expirySec === NEVER_EXPIRES_SEC) return;
    session.expiryTimer = setTimeout(
      () => {
        if (session.link !== undefined) return;
        this.#removeSession(session);
        this.#logger.info({ event: "session.expired", client_id: session.clientId }, "expired");
      },
      Math.min(Math.max(remainingMs, 0), MAX_TIMER_MS),
    );
    session.expiryTimer.unref();
  }

  /**
   * Appends a message to the log and resolves once it is committed, after
   * which it is visible to subscribers and a retained message is stored.
   * Rejects if the log failed: the caller must not acknowledge.
   */
  async publish(message: Message): Promise<void> {
    this.#append(message);
    await this.#commits.wait();
    if (message.retain) await this.#retained.store(message);
  }

  /** Appends a message and marks the filter indices it matches; returns its offset. */
  #append(message: Message, origin?: Origin): number {
    if (this.#failed !== undefined) throw this.#failed;
    const offset = this.#log.append([
      {
        topic: message.topic,
        qos: message.qos,
        retain: message.retain,
        timestampMs: Date.now(),
        expiresAtMs: message.expiresAtMs,
        body: encodeBody(message.payload, message.properties, origin),
      },
    ]);
    for (const index of this.#subscriptions.match(message.topic)) {
      index.push(offset);
      this.#commits.markDirty(index);
    }
    return offset;
  }

  /**
   * An inbound QoS 2 PUBLISH: appended once per packet id until PUBREL; a
   * duplicate resolves with the first copy's commit. The caller sends PUBREC.
   */
  receiveQos2(session: Session, packetId: number, message: Message): Promise<void> {
    const pending = session.inboundQos2.get(packetId);
    if (pending !== undefined) return pending;
    const persist = this.#store !== undefined && session.persistent;
    const offset = this.#append(
      message,
      persist ? { clientId: session.clientId, packetId } : undefined,
    );
    // [QoS 2 across a restart] the id is stored with the message's offset in
    // the same turn as the append, and PUBREC waits for both to be durable:
    // a kill between the two leaves either nothing (the resend is stored) or
    // an id whose offset restore checks against the log.
    const store = this.#store;
    let stored: Promise<void> | undefined;
    if (store !== undefined && session.persistent) {
      store.putInbound(session.clientId, packetId, offset);
      session.stored = true;
      stored = store.flush();
    }
    const commit = Promise.all([this.#commits.wait(), stored]).then(async () => {
      if (message.retain) await this.#retained.store(message);
    });
    session.inboundQos2.set(packetId, commit);
    // A failed commit must not leave the id "received": the client resends it.
    commit.catch(() => session.inboundQos2.delete(packetId));
    return commit;
  }

  /**
   * PUBREL from the client: forgets the packet id, durably before the caller
   * sends PUBCOMP (else a new PUBLISH reusing the id after a restart would be
   * taken for a duplicate). Resolves to false when the id was unknown.
   */
  async releaseQos2(session: Session, packetId: number): Promise<boolean> {
    const known = session.inboundQos2.delete(packetId);
    if (known && session.stored && this.#store !== undefined) {
      this.#store.delInbound(session.clientId, packetId);
      await this.#store.flush();
    }
    return known;
  }

  /**
   * SUBSCRIBE: one result per request, in order ([MQTT-3.8.4-5]). The
   * subscriptions of a persistent session are durable when this resolves, so
   * the caller may send SUBACK; the retained messages owed are queued then.
   */
  async subscribe(session: Session, requests: SubscribeRequest[]): Promise<SubscribeResult[]> {
    const store = this.#store;
    const persist = store !== undefined && session.persistent;
    const accepted: SubscribeRequest[] = [];
    const results = requests.map((request): SubscribeResult => {
      if (topicFilterProblem(request.filter) !== undefined) {
        return { refused: "TopicFilterInvalid" };
      }
      this.#subscriptions.add(session, request.filter, request.qos, this.#log.committedOffset);
      const sub = session.subscriptions.get(request.filter);
      if (persist && sub !== undefined) {
        store.putSubscription(session.clientId, sub.filter, sub.qos, sub.sinceOffset);
        session.stored = true;
      }
      accepted.push(request);
      return { granted: request.qos };
    });
    if (persist) await store.flush();
    const now = Date.now();
    for (const request of accepted) {
      // [MQTT-3.3.1-6] Retained messages matching the filter are sent, with RETAIN set ([MQTT-3.3.1-8]).
      for (const retained of this.#retained.match(request.filter, now)) {
        session.retainedQueue.push({
          topic: retained.topic,
          qos: Math.min(retained.qos, request.qos) as Qos,
          retain: true,
          dup: false,
          payload: retained.payload,
          ...(retained.properties === undefined ? {} : { properties: retained.properties }),
        });
      }
    }
    return results;
  }

  /** UNSUBSCRIBE: "Success" or "NoSubscriptionExisted" per filter ([MQTT-3.10.4-1]), durable. */
  async unsubscribe(
    session: Session,
    filters: string[],
  ): Promise<Array<"Success" | "NoSubscriptionExisted">> {
    const results = filters.map((filter) => {
      const removed = this.#subscriptions.remove(session, filter);
      if (removed && session.stored) this.#store?.delSubscription(session.clientId, filter);
      return removed ? ("Success" as const) : ("NoSubscriptionExisted" as const);
    });
    if (session.stored) await this.#store?.flush();
    return results;
  }

  /** PUBACK from the client; false when the packet id is not inflight as QoS 1. */
  puback(session: Session, packetId: number): boolean {
    const entry = session.inflight.get(packetId);
    if (entry === undefined || entry.publish.qos !== 1) return false;
    this.#release(session, packetId);
    return true;
  }

  /**
   * PUBREC from the client: the message moves to the PUBREL phase, or, when
   * the client refused it (a v5 reason code >= 0x80), its delivery ends here.
   */
  async pubrec(session: Session, packetId: number, refused: boolean): Promise<boolean> {
    const entry = session.inflight.get(packetId);
    if (entry === undefined || entry.publish.qos !== 2) return false;
    if (refused) {
      this.#release(session, packetId);
    } else {
      entry.phase = "pubrel";
      if (session.stored && this.#store !== undefined) {
        // Durable before PUBREL goes out: after a restart the message is never
        // sent again as a PUBLISH once its PUBREL may have been (spec 4.3.3).
        this.#store.putOutbound(session.clientId, packetId, entry);
        await this.#store.flush();
      }
    }
    return true;
  }

  /** PUBCOMP from the client: the QoS 2 delivery is complete and its packet id free. */
  pubcomp(session: Session, packetId: number): boolean {
    const entry = session.inflight.get(packetId);
    if (entry === undefined || entry.phase !== "pubrel") return false;
    this.#release(session, packetId);
    return true;
  }

  /** An outgoing delivery ended: its packet id is free (durably) and the window has room. */
  #release(session: Session, packetId: number): void {
    session.inflight.delete(packetId);
    if (session.stored) this.#store?.delOutbound(session.clientId, packetId);
    this.pump(session);
  }

  /** Delivers what the session is owed: retained messages, then the log from its cursor. */
  pump(session: Session): void {
    if (!this.#delivering) return;
    pumpSession(session, {
      log: this.#log,
      logger: this.#logger,
      store: this.#store,
      maxInflight: session.maxInflight,
      maxOutgoingPacketCount: this.#options.maxOutgoingPacketCount,
      repump: (s) => this.pump(s),
      fail: (error) => this.#fail(error),
    });
  }

  /**
   * The broker is stopping: no PUBLISH goes out from now on (those already
   * waiting for their index write still do), so that the links can wait for
   * the acknowledgements of what is in flight before they close.
   */
  stopDelivering(): void {
    this.#delivering = false;
  }

  /**
   * Whether nothing sent to this session still awaits its PUBACK or PUBREC.
   * A message in the PUBREL phase is settled: after a restart only its
   * PUBREL is sent again, and the client delivers nothing twice.
   */
  deliverySettled(session: Session): boolean {
    if (session.pendingSends > 0) return false;
    for (const entry of session.inflight.values()) if (entry.phase === "publish") return false;
    return true;
  }

  /** The log dropped segments below `startOffset`: filter indices forget those offsets. */
  trimBefore(startOffset: number): void {
    this.#subscriptions.trimBefore(startOffset);
  }

  /**
   * Graceful stop, after every link is closed: waits for the commit in
   * progress, the retained writes and the session writes.
   */
  async close(): Promise<void> {
    for (const session of this.#sessions.values()) clearTimeout(session.expiryTimer);
    await this.#commits.drain();
    await this.#retained.drain();
    if (this.#failed === undefined) await this.#store?.flush();
  }

  /**
   * Start: loads retained messages and the sessions saved at the last
   * graceful stop, then rebuilds the filter indices of their subscriptions
   * from the log (the log is the truth; indices are never stored).
   */
  async restore(): Promise<void> {
    const index = this.#options.index;
    if (index === undefined) return;
    await this.#retained.load();
    const stored = await loadSessions(index);
    const now = Date.now();
    let from = Number.POSITIVE_INFINITY;
    for (const s of stored) {
      const restored = await sessionFromStore(s, this.#log, this.#subscriptions, now, (id) => {
        this.#logger.warn(
          { event: "session.inflight_lost", client_id: s.clientId, packet_id: id },
          "inflight message lost",
        );
        this.#store?.delOutbound(s.clientId, id);
      });
      if (restored === undefined) {
        // Expired while the broker was down: its stored state goes too.
        this.#store?.forget(s.clientId);
        continue;
      }
      this.#sessions.set(s.clientId, restored.session);
      this.#armExpiry(restored.session, restored.expiresInMs);
      from = Math.min(from, restored.session.cursor);
    }
    await rebuildFilterIndices(this.#log, this.#subscriptions, from);
    await recoverInboundIds(index, this.#log, this.#sessions, this.#store);
    await this.#store?.flush();
    this.#logger.info(
      { event: "router.restored", sessions: this.#sessions.size, retained: this.#retained.size },
      "router state restored",
    );
  }

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#logger.fatal({ event: "storage.failed", err: error }, "commit log failed");
    this.#options.onFatal(error);
  }

  #publishWill(session: Session): void {
    const will = session.will;
    session.will = undefined;
    if (will === undefined) return;
    // The will's fate is logged; nobody waits for it.
    this.publish(will).catch((error: unknown) => {
      this.#logger.error(
        { event: "will.failed", err: error, client_id: session.clientId },
        "will not published",
      );
    });
  }

  /** Queues the session's record (expiry, when it went offline); the next flush makes it durable. */
  #storeSession(session: Session, disconnectedAtMs: number | null | undefined): void {
    if (this.#store === undefined) return;
    this.#store.putSession(session.clientId, session.expiryIntervalSec, disconnectedAtMs ?? null);
    session.stored = true;
  }

  #removeSession(session: Session): void {
    clearTimeout(session.expiryTimer);
    if (session.stored) {
      this.#store?.forget(session.clientId);
      session.stored = false;
    }
    this.#subscriptions.removeAll(session);
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }
}
