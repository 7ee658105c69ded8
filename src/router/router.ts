// The router: sessions, the subscription tree, routing publishes into the
// commit log and delivering from the log to sessions and shared groups,
// retained messages and wills. Every PUBLISH is appended to the log; it is
// acknowledged and made visible to subscribers only once committed. Each
// subscribed filter has one FilterIndex of matching offsets shared by its
// subscribers and shared groups; sessions and groups hold cursors, never
// queues of messages.
//
// Sessions are attached, detached and ended in session-lifecycle.ts.
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
import type { RouterLog } from "./delivery.ts";
import { type CommitWaiter, GroupCommit } from "./group-commit.ts";
import { type InboundDeps, receiveQos2, releaseQos2 } from "./inbound-qos2.ts";
import { encodeBody, type Message, type Origin } from "./message.ts";
import { type AckDeps, puback, pubcomp, pubrec } from "./outbound-acks.ts";
import { Pumps } from "./pumps.ts";
import { RecentMessages } from "./recent-messages.ts";
import { restoreState } from "./restore.ts";
import { RetainedStore } from "./retained-store.ts";
import type { Session, SessionLink } from "./session.ts";
import {
  armExpiry,
  type ConnectRequest,
  connectSession,
  disconnectSession,
  type LifecycleDeps,
  resendInflight,
  storeSession,
} from "./session-lifecycle.ts";
import { SessionStore } from "./session-store.ts";
import type { SharedStrategy } from "./shared-group.ts";
import {
  type SubscribeDeps,
  type SubscribeRequest,
  type SubscribeResult,
  subscribeSession,
  unsubscribeSession,
} from "./subscribe.ts";
import { SubscriptionTable } from "./subscription-table.ts";
import { cancelWill, WillKeeper } from "./will-timer.ts";

export type { ConnectRequest } from "./session-lifecycle.ts";
export type { SubscribeRequest, SubscribeResult } from "./subscribe.ts";

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

export class Router {
  readonly #log: RouterLog;
  readonly #logger: Logger;
  readonly #options: RouterOptions;
  readonly #store: SessionStore | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #subscriptions = new SubscriptionTable();
  readonly #retained: RetainedStore;
  readonly #commits: GroupCommit;
  readonly #wills: WillKeeper;
  readonly #acks: AckDeps;
  readonly #subscribeDeps: SubscribeDeps;
  readonly #inbound: InboundDeps;
  readonly #pumps: Pumps;
  readonly #lifecycle: LifecycleDeps;
  /** Recently appended or delivered messages, decoded once for every session (pumps.ts). */
  readonly #recent = new RecentMessages();
  #failed: unknown;

  constructor(options: RouterOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#logger = options.logger;
    this.#retained = new RetainedStore(options.index);
    this.#commits = new GroupCommit(
      options.log,
      (dirty) => this.#pumps.committed(dirty),
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
    this.#wills = new WillKeeper({
      publish: (message) => this.publish(message),
      published: (session) => {
        if (this.#sessions.get(session.clientId) === session && session.stored) {
          storeSession(this.#store, session);
        }
      },
      logger: this.#logger,
    });
    this.#pumps = new Pumps({
      log: this.#log,
      recent: this.#recent,
      logger: this.#logger,
      store: this.#store,
      table: this.#subscriptions,
      maxOutgoingPacketCount: options.maxOutgoingPacketCount,
      strategy: options.sharedStrategy,
      fail: (error) => this.#fail(error),
    });
    this.#acks = {
      store: this.#store,
      pump: (s) => this.#pumps.soon(s),
      pumpGroup: (g) => this.#pumps.group(g),
    };
    this.#inbound = {
      append: (message, origin) => this.#append(message, origin),
      committed: () => this.#commits.wait(),
      retained: this.#retained,
      store: this.#store,
    };
    this.#subscribeDeps = {
      log: this.#log,
      table: this.#subscriptions,
      retained: this.#retained,
      store: this.#store,
    };
    this.#lifecycle = {
      sessions: this.#sessions,
      log: this.#log,
      logger: this.#logger,
      store: this.#store,
      table: this.#subscriptions,
      acks: this.#acks,
      wills: this.#wills,
    };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** CONNECT (session-lifecycle.ts): the session and the session-present flag. Atomic. */
  connect(request: ConnectRequest): { session: Session; sessionPresent: boolean } {
    return connectSession(this.#lifecycle, request);
  }

  /**
   * Called by the link once CONNACK is written: resends what the client has
   * not acknowledged, with DUP set ([MQTT-4.4.0-1]), then delivers from the cursor.
   */
  resume(session: Session): void {
    const link = session.link;
    if (link === undefined) return;
    const now = Date.now();
    if (session.inflightCount > 0) resendInflight(session, link, now);
    this.pump(session);
  }

  /** The link closed (session-lifecycle.ts); `publishWill` is false only after a normal DISCONNECT. */
  disconnect(session: Session, link: SessionLink, options: { publishWill: boolean }): void {
    disconnectSession(this.#lifecycle, session, link, options);
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

  /**
   * `publish` without a promise: appends now (throws if the log failed) and
   * calls `waiter` once the message is committed (and, if retained, stored).
   */
  publishThen(message: Message, waiter: CommitWaiter): void {
    this.#append(message);
    if (!message.retain) {
      this.#commits.add(waiter);
      return;
    }
    this.#commits
      .wait()
      .then(() => this.#retained.store(message))
      .then(
        () => waiter.committed(),
        (error: unknown) => waiter.failed(error),
      );
  }

  /** Appends a message and marks the filter indices it matches; returns its offset. */
  #append(message: Message, origin?: Origin): number {
    if (this.#failed !== undefined) throw this.#failed;
    const publisher = message.publisherId;
    const body = encodeBody(message.payload, message.properties, origin ?? publisher);
    const offset = this.#log.append([
      {
        topic: message.topic,
        qos: message.qos,
        retain: message.retain,
        timestampMs: Date.now(),
        expiresAtMs: message.expiresAtMs,
        body,
      },
    ]);
    // Delivery finds it decoded (the body names the publisher as `origin` or the message
    // does), its payload a view into the body, which ends with it (message.ts).
    this.#recent.seed(
      offset,
      message,
      origin?.clientId ?? publisher,
      body.subarray(body.length - message.payload.length),
    );
    for (const index of this.#subscriptions.match(message.topic)) {
      index.push(offset);
      this.#commits.markDirty(index);
    }
    return offset;
  }

  /** An inbound QoS 2 PUBLISH (inbound-qos2.ts); resolves when PUBREC may go out. */
  receiveQos2(session: Session, packetId: number, message: Message): Promise<void> {
    return receiveQos2(this.#inbound, session, packetId, message);
  }

  /** PUBREL (inbound-qos2.ts); false when the packet id was unknown. */
  releaseQos2(session: Session, packetId: number): Promise<boolean> {
    return releaseQos2(this.#inbound, session, packetId);
  }

  /** SUBSCRIBE (subscribe.ts): durable for a persistent session when it resolves. */
  subscribe(session: Session, requests: SubscribeRequest[]): Promise<SubscribeResult[]> {
    return subscribeSession(this.#subscribeDeps, session, requests);
  }

  /** UNSUBSCRIBE (subscribe.ts): "Success" or "NoSubscriptionExisted" per filter, durable. */
  unsubscribe(
    session: Session,
    filters: string[],
  ): Promise<Array<"Success" | "NoSubscriptionExisted">> {
    return unsubscribeSession(this.#subscribeDeps, session, filters);
  }

  /** PUBACK from the client (outbound-acks.ts); false when the packet id is not inflight as QoS 1. */
  puback(session: Session, packetId: number): boolean {
    return puback(this.#acks, session, packetId);
  }

  /** PUBREC from the client (outbound-acks.ts); `refused`: a reason code >= 0x80. */
  pubrec(session: Session, packetId: number, refused: boolean): Promise<boolean> {
    return pubrec(this.#acks, session, packetId, refused);
  }

  /** PUBCOMP from the client (outbound-acks.ts). */
  pubcomp(session: Session, packetId: number): boolean {
    return pubcomp(this.#acks, session, packetId);
  }

  /** Delivers what the session is owed and feeds its shared groups (pumps.ts). */
  pump(session: Session): void {
    this.#pumps.session(session);
  }

  /**
   * The broker is stopping: no PUBLISH goes out from now on (those already
   * waiting for their index write still do), so that the links can wait for
   * the acknowledgements of what is in flight before they close.
   */
  stopDelivering(): void {
    this.#pumps.stop();
  }

  /**
   * Whether nothing sent to this session still awaits its PUBACK or PUBREC.
   * A message in the PUBREL phase is settled: after a restart only its
   * PUBREL is sent again, and the client delivers nothing twice.
   */
  deliverySettled(session: Session): boolean {
    if (session.pendingSends > 0) return false;
    if (session.inflightCount === 0) return true;
    for (const entry of session.inflight.values()) if (entry.phase === "publish") return false;
    return true;
  }

  /**
   * The log dropped segments below `startOffset` to keep within its budget:
   * every session and shared group still owed messages there loses them, and
   * each loss is logged with its count (never silent); then the filter
   * indices forget those offsets.
   */
  trimBefore(startOffset: number): void {
    for (const session of this.#sessions.values()) {
      if (session.cursor >= startOffset) continue;
      const lost = session.owedBefore(startOffset);
      if (lost > 0) this.#logLoss({ client_id: session.clientId }, lost, startOffset);
    }
    for (const group of this.#subscriptions.groups()) {
      const lost = group.index.countBetween(group.cursor, startOffset);
      if (lost > 0) this.#logLoss({ group: group.key }, lost, startOffset);
    }
    this.#subscriptions.trimBefore(startOffset);
  }

  #logLoss(owner: { client_id: string } | { group: string }, count: number, start: number): void {
    this.#logger.warn(
      { event: "session.messages_lost", ...owner, count, log_start_offset: start },
      "messages lost: the log deleted them (size budget) before they were delivered",
    );
  }

  /**
   * Graceful stop, after every link is closed: waits for the commit in
   * progress, the retained writes and the session writes. Wills still
   * waiting for their delay stay stored with their sessions, for the next start.
   */
  async close(): Promise<void> {
    for (const session of this.#sessions.values()) {
      session.expiryTimer?.cancel();
      cancelWill(session);
    }
    await this.#commits.drain();
    await this.#retained.drain();
    if (this.#failed === undefined) await this.#store?.flush();
  }

  /**
   * Start: loads retained messages, then the stored sessions and shared
   * groups with their timers (restore.ts).
   */
  async restore(): Promise<void> {
    const index = this.#options.index;
    if (index === undefined) return;
    await this.#retained.load();
    await restoreState({
      index,
      log: this.#log,
      logger: this.#logger,
      store: this.#store,
      sessions: this.#sessions,
      table: this.#subscriptions,
      wills: this.#wills,
      armExpiry: (session, remainingMs) => armExpiry(this.#lifecycle, session, remainingMs),
    });
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
}
