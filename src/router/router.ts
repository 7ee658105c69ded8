// The router: sessions, the subscription tree, routing publishes into the
// commit log and delivering from the log to sessions and shared groups,
// retained messages and wills. Every PUBLISH is appended to the log; it is
// acknowledged and made visible to subscribers only once committed. Each
// subscribed filter has one FilterIndex of matching offsets shared by its
// subscribers and shared groups; sessions and groups hold cursors, never
// queues of messages.
//
// Who calls it: links (through the methods below) and broker.ts (construction,
// close). It never touches a socket: it calls back into links through the
// SessionLink interface. It never parses MQTT bytes.
//
// Persistence: retained messages are written through to the storage index
// before their publish is acknowledged (retained-store.ts); persistent sessions
// are written ahead (session-store.ts: subscriptions before SUBACK, inbound
// QoS 2 ids before PUBREC, packet-id assignments and cursors before the
// PUBLISH, the will with the session record), shared groups' positions
// before the PUBLISHes they hand out (shared-group.ts), and all of it is
// restored at start (restore), the filter indices rebuilt from the log.
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
import { outgoingPublish, resendOf } from "./outgoing.ts";
import { loadGroups, loadSessions } from "./persistence.ts";
import {
  rebuildFilterIndices,
  recoverInboundIds,
  restoreGroups,
  sessionFromStore,
} from "./restore.ts";
import { RetainedStore } from "./retained-store.ts";
import {
  NEVER_EXPIRES_SEC,
  Session,
  type SessionLink,
  type SubscriptionOptions,
} from "./session.ts";
import { SessionStore } from "./session-store.ts";
import { pumpGroup } from "./shared-delivery.ts";
import { parseSharedFilter, type SharedGroup, type SharedStrategy } from "./shared-group.ts";
import { SubscriptionTable } from "./subscription-table.ts";
import {
  armWill,
  cancelWill,
  MAX_TIMER_MS,
  type Will,
  willDelayMs,
  willMessage,
} from "./will-timer.ts";

/** A filter index is trimmed of offsets all its readers have passed once it holds this many. */
const TRIM_THRESHOLD = 4096;

export interface RouterOptions {
  log: RouterLog;
  /** The storage index; absent in tests of the router alone (nothing is persisted then). */
  index?: IndexDb;
  logger: Logger;
  /** Packets the router hands one link per turn before yielding the event loop. */
  maxOutgoingPacketCount: number;
  /** How a shared group picks the member that gets a message (`router.shared_subscriptions_strategy`). */
  sharedStrategy: SharedStrategy;
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
  will: Will | undefined;
  maxInflight: number;
  link: SessionLink;
  /** The link's logger (listener, conn), so that session lines carry the connection's fields. */
  logger: Logger;
}

/** One filter of a SUBSCRIBE; the MQTT 5 options default to what 3.1.1 does. */
export interface SubscribeRequest {
  filter: string;
  qos: Qos;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
  subscriptionId?: number;
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
        const groups = new Set<SharedGroup>();
        for (const index of dirty) {
          for (const s of index.subscribers) sessions.add(s);
          for (const g of index.groups) groups.add(g);
        }
        if (this.#delivering) {
          for (const session of sessions) pumpSession(session, this.#pumpContext(session));
          for (const group of groups) this.#pumpGroup(group);
        }
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
      this.#reclaimShared(session);
      // The old connection closed: its will follows the rules of a lost
      // connection, and the new connection cancels a delayed one below.
      if (session.will !== undefined && willDelayMs(session, session.will) === 0) {
        this.#publishWill(session);
      }
    }
    if (session !== undefined) {
      // A session ended by this Clean Start publishes the will it still holds
      // (spec 3.1.3.2.2: "or the Session ends"); a resumed one cancels it ([MQTT-3.1.3-9]).
      if (request.cleanStart) this.#publishWill(session);
      cancelWill(session);
      session.will = undefined;
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
    } else {
      clearTimeout(session.expiryTimer);
      session.expiryTimer = undefined;
      session.persistent = request.persistent;
      session.expiryIntervalSec = request.expiryIntervalSec;
      log.debug({ event: "session.resumed" }, "session resumed");
    }
    session.link = request.link;
    session.disconnectedAtMs = undefined;
    session.will = request.will;
    session.maxInflight = request.maxInflight;
    if (request.persistent) this.#storeSession(session);
    return { session, sessionPresent };
  }

  /**
   * Called by the link once CONNACK is written: resends what the client has
   * not acknowledged, with DUP set ([MQTT-4.4.0-1]), then delivers from the cursor.
   */
  resume(session: Session): void {
    const link = session.link;
    if (link === undefined) return;
    const now = Date.now();
    for (const [packetId, entry] of session.inflight) {
      if (entry.phase === "publish")
        link.sendPublish(resendOf(entry.publish, entry.expiresAtMs, now));
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
    this.#reclaimShared(session);
    if (!options.publishWill) session.will = undefined;
    const will = session.will;
    if (will !== undefined) {
      const delayMs = willDelayMs(session, will);
      if (delayMs === 0) this.#publishWill(session);
      else armWill(session, delayMs, () => this.#publishWill(session));
    }
    if (!session.persistent) {
      this.#removeSession(session);
      return;
    }
    this.#storeSession(session);
    this.#armExpiry(session, session.expiryIntervalSec * 1000);
  }

  /** Ends an offline v5 session after its expiry interval; 3.1.1 sessions (0) never expire. */
  #armExpiry(session: Session, remainingMs: number): void {
    const expirySec = session.expiryIntervalSec;
    if (expirySec === 0 || expirySec === NEVER_EXPIRES_SEC) return;
    session.expiryTimer = setTimeout(
      () => {
        if (session.link !== undefined) return;
        // A will still waiting is published when its session ends (spec 3.1.3.2.2).
        this.#publishWill(session);
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
    const publisher = message.publisherId;
    const offset = this.#log.append([
      {
        topic: message.topic,
        qos: message.qos,
        retain: message.retain,
        timestampMs: Date.now(),
        expiresAtMs: message.expiresAtMs,
        body: encodeBody(
          message.payload,
          message.properties,
          origin ?? (publisher === undefined ? undefined : { publisherId: publisher }),
        ),
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
    const accepted: Array<{ request: SubscribeRequest; existed: boolean }> = [];
    const results = requests.map((request): SubscribeResult => {
      const shared = parseSharedFilter(request.filter);
      // [MQTT-4.8.2-1] [MQTT-4.8.2-2] A bad share name is an invalid topic filter (0x8F).
      const invalid =
        shared === "invalid" ||
        (shared === undefined && topicFilterProblem(request.filter) !== undefined);
      if (invalid) return { refused: "TopicFilterInvalid" };
      const options = optionsOf(request);
      const since = this.#log.committedOffset;
      const { existed, newGroup } = this.#subscriptions.add(
        session,
        request.filter,
        options,
        since,
      );
      if (newGroup !== undefined) store?.putGroup(newGroup);
      const sub = session.subscriptions.get(request.filter);
      if (persist && sub !== undefined) {
        store.putSubscription(session.clientId, sub.filter, sub, sub.sinceOffset);
        session.stored = true;
      }
      // Retained messages are not sent on a shared subscription (spec 4.8.2).
      if (shared === undefined) accepted.push({ request, existed });
      return { granted: request.qos };
    });
    if (persist) await store.flush();
    const now = Date.now();
    for (const { request, existed } of accepted)
      this.#queueRetained(session, request, existed, now);
    return results;
  }

  /**
   * The retained messages a SUBSCRIBE owes, with RETAIN set ([MQTT-3.3.1-9]
   * Retain Handling 0: always, [MQTT-3.3.1-10] 1: for a new subscription only,
   * [MQTT-3.3.1-11] 2: never), at the minimum QoS, with the subscription's
   * identifier and the expiry left.
   */
  #queueRetained(session: Session, request: SubscribeRequest, existed: boolean, now: number): void {
    const handling = request.retainHandling ?? 0;
    if (handling === 2 || (handling === 1 && existed)) return;
    for (const retained of this.#retained.match(request.filter, now)) {
      const publish = outgoingPublish(
        {
          topic: retained.topic,
          qos: Math.min(retained.qos, request.qos) as Qos,
          retain: true,
          payload: retained.payload,
          properties: retained.properties,
          expiresAtMs: retained.expiresAtMs,
          subscriptionIds: request.subscriptionId === undefined ? [] : [request.subscriptionId],
        },
        now,
      );
      session.retainedQueue.push({ publish, expiresAtMs: retained.expiresAtMs });
    }
  }

  /** UNSUBSCRIBE: "Success" or "NoSubscriptionExisted" per filter ([MQTT-3.10.4-1]), durable. */
  async unsubscribe(
    session: Session,
    filters: string[],
  ): Promise<Array<"Success" | "NoSubscriptionExisted">> {
    const results = filters.map((filter) => {
      const { removed, endedGroup } = this.#subscriptions.remove(session, filter);
      if (endedGroup !== undefined) this.#store?.delGroup(endedGroup.key);
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
   * the client refused it (a v5 reason code >= 0x80), its delivery ends here
   * (for a shared subscription too: not sent to another member [MQTT-4.8.2-6]).
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

  /**
   * An outgoing delivery ended: its packet id is free (durably) and the
   * window has room. A shared group's QoS 1 message is done for the group too
   * (also when refused: [MQTT-4.8.2-6]).
   */
  #release(session: Session, packetId: number): void {
    const entry = session.inflight.get(packetId);
    session.inflight.delete(packetId);
    const group = entry?.group;
    if (entry !== undefined && group !== undefined && entry.offset !== null && !group.ended) {
      group.unacked.delete(entry.offset);
      this.#store?.putGroup(group);
    } else if (session.stored) {
      this.#store?.delOutbound(session.clientId, packetId);
    }
    this.pump(session);
  }

  /**
   * A session's connection went away: the QoS 1 messages shared groups handed
   * it and it has not acknowledged go back to their groups, for another
   * member (spec 4.8.2). QoS 2 ones stay: [MQTT-4.8.2-4] / [MQTT-4.8.2-5].
   */
  #reclaimShared(session: Session): void {
    const groups = new Set<SharedGroup>();
    for (const [packetId, entry] of session.inflight) {
      const group = entry.group;
      if (group === undefined || entry.offset === null || entry.phase !== "publish") continue;
      session.inflight.delete(packetId);
      if (group.ended) continue;
      group.requeue(entry.offset);
      groups.add(group);
    }
    for (const group of groups) {
      this.#store?.putGroup(group);
      this.#pumpGroup(group);
    }
  }

  /** Delivers what the session is owed (retained messages, then the log from its cursor) and feeds its groups. */
  pump(session: Session): void {
    if (!this.#delivering) return;
    pumpSession(session, this.#pumpContext(session));
    for (const group of session.groups) this.#pumpGroup(group);
  }

  #pumpContext(session: Session): Parameters<typeof pumpSession>[1] {
    return {
      log: this.#log,
      logger: this.#logger,
      store: this.#store,
      maxInflight: session.maxInflight,
      maxOutgoingPacketCount: this.#options.maxOutgoingPacketCount,
      repump: (s) => this.pump(s),
      fail: (error) => this.#fail(error),
    };
  }

  #pumpGroup(group: SharedGroup): void {
    if (!this.#delivering) return;
    pumpGroup(group, {
      log: this.#log,
      logger: this.#logger,
      store: this.#store,
      strategy: this.#options.sharedStrategy,
      maxOutgoingPacketCount: this.#options.maxOutgoingPacketCount,
      repump: (g) => this.#pumpGroup(g),
      pumpMember: (s) => this.pump(s),
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
   * progress, the retained writes and the session writes. Wills still
   * waiting for their delay stay stored with their sessions, for the next start.
   */
  async close(): Promise<void> {
    for (const session of this.#sessions.values()) {
      clearTimeout(session.expiryTimer);
      cancelWill(session);
    }
    await this.#commits.drain();
    await this.#retained.drain();
    if (this.#failed === undefined) await this.#store?.flush();
  }

  /**
   * Start: loads retained messages, the stored sessions and shared groups,
   * rebuilds the filter indices of their subscriptions from the log (the log
   * is the truth; indices are never stored), then arms expiry and will timers
   * (a will whose time passed while the broker was down is published now).
   */
  async restore(): Promise<void> {
    const index = this.#options.index;
    if (index === undefined) return;
    await this.#retained.load();
    const stored = await loadSessions(index);
    const groupRecords = await loadGroups(index);
    const now = Date.now();
    let from = Number.POSITIVE_INFINITY;
    const expiries: Array<[Session, number]> = [];
    const endedWills: Array<[string, Will]> = [];
    for (const s of stored) {
      const restored = await sessionFromStore(s, this.#log, this.#subscriptions, now, (id) => {
        this.#logger.warn(
          { event: "session.inflight_lost", client_id: s.clientId, packet_id: id },
          "inflight message lost",
        );
        this.#store?.delOutbound(s.clientId, id);
      });
      if (restored === undefined) {
        // Expired while the broker was down: its stored state goes too, its will is due.
        this.#store?.forget(s.clientId);
        if (s.will !== undefined) endedWills.push([s.clientId, s.will]);
        continue;
      }
      this.#sessions.set(s.clientId, restored.session);
      expiries.push([restored.session, restored.expiresInMs]);
      from = Math.min(from, restored.session.cursor);
    }
    const groups = restoreGroups(this.#subscriptions, groupRecords, this.#log);
    for (const key of groups.orphans) this.#store?.delGroup(key);
    for (const group of this.#subscriptions.groups()) this.#store?.putGroup(group);
    await rebuildFilterIndices(this.#log, this.#subscriptions, Math.min(from, groups.from));
    await recoverInboundIds(index, this.#log, this.#sessions, this.#store);
    await this.#store?.flush();
    // Timers last: a will published now is appended after the indices are rebuilt.
    for (const [session, expiresInMs] of expiries) {
      this.#armExpiry(session, expiresInMs);
      const will = session.will;
      if (will === undefined) continue;
      const dueInMs = (session.disconnectedAtMs ?? now) + willDelayMs(session, will) - Date.now();
      armWill(session, dueInMs, () => this.#publishWill(session));
    }
    for (const [clientId, will] of endedWills) this.#publishStoredWill(clientId, will);
    this.#logger.info(
      {
        event: "router.restored",
        sessions: this.#sessions.size,
        retained: this.#retained.size,
        shared_groups: [...this.#subscriptions.groups()].length,
      },
      "router state restored",
    );
  }

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#logger.fatal({ event: "storage.failed", err: error }, "commit log failed");
    this.#options.onFatal(error);
  }

  /**
   * Publishes the session's will now (if it has one) and, once it is
   * committed, stores the session record without it.
   */
  #publishWill(session: Session): void {
    cancelWill(session);
    const will = session.will;
    session.will = undefined;
    if (will === undefined) return;
    this.#publishStoredWill(session.clientId, will, () => {
      if (this.#sessions.get(session.clientId) === session && session.stored) {
        this.#storeSession(session);
      }
    });
  }

  #publishStoredWill(clientId: string, will: Will, then?: () => void): void {
    // The will's fate is logged; nobody waits for it.
    this.publish(willMessage(will, Date.now())).then(then, (error: unknown) => {
      this.#logger.error({ event: "will.failed", err: error, client_id: clientId }, "will lost");
    });
  }

  /** Queues the session's record (expiry, when it went offline, its will); the next flush makes it durable. */
  #storeSession(session: Session): void {
    if (this.#store === undefined) return;
    this.#store.putSession(
      session.clientId,
      session.expiryIntervalSec,
      session.disconnectedAtMs ?? null,
      session.will,
    );
    session.stored = true;
  }

  #removeSession(session: Session): void {
    clearTimeout(session.expiryTimer);
    cancelWill(session);
    this.#reclaimShared(session);
    if (session.stored) {
      this.#store?.forget(session.clientId);
      session.stored = false;
    }
    for (const group of this.#subscriptions.removeAll(session)) this.#store?.delGroup(group.key);
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }
}

function optionsOf(request: SubscribeRequest): SubscriptionOptions {
  return {
    qos: request.qos,
    noLocal: request.noLocal ?? false,
    retainAsPublished: request.retainAsPublished ?? false,
    retainHandling: request.retainHandling ?? 0,
    subscriptionId: request.subscriptionId,
  };
}
