// Who delivers when: the router's one place that starts delivery, to
// sessions (delivery.ts) and shared groups (shared-delivery.ts), after a
// commit (the readers of the filter indices that received offsets), when a
// session has room again (`soon`: once per session after the acks of one
// socket read, not once per ack), and never once the broker is stopping
// (Router.stopDelivering).
//
// Who calls it: the router only.

import type { Logger } from "../log.ts";
import { type PumpContext, pumpSession, type RouterLog } from "./delivery.ts";
import type { FilterIndex } from "./filter-index.ts";
import type { RecentMessages } from "./recent-messages.ts";
import type { Session } from "./session.ts";
import type { SessionStore } from "./session-store.ts";
import { type GroupPumpContext, pumpGroup } from "./shared-delivery.ts";
import type { SharedGroup, SharedStrategy } from "./shared-group.ts";
import type { SubscriptionTable } from "./subscription-table.ts";

/** A filter index is trimmed of offsets all its readers have passed once it holds this many. */
const TRIM_THRESHOLD = 4096;

export interface PumpsOptions {
  log: RouterLog;
  /** Recently appended or delivered messages, decoded once for every session. */
  recent: RecentMessages;
  logger: Logger;
  store: SessionStore | undefined;
  table: SubscriptionTable;
  maxOutgoingPacketCount: number;
  strategy: SharedStrategy;
  fail: (error: unknown) => void;
}

export class Pumps {
  readonly #options: PumpsOptions;
  readonly #groupContext: GroupPumpContext;
  readonly #sessionContext: PumpContext;
  /** Sessions to pump at the end of the current task (`soon`). */
  readonly #due = new Set<Session>();
  /** False once the broker is stopping: nothing new goes out, acknowledgements still come in. */
  #delivering = true;

  constructor(options: PumpsOptions) {
    this.#options = options;
    this.#groupContext = {
      log: options.log,
      logger: options.logger,
      store: options.store,
      strategy: options.strategy,
      maxOutgoingPacketCount: options.maxOutgoingPacketCount,
      repump: (g) => this.group(g),
      pumpMember: (s) => this.session(s),
      fail: options.fail,
    };
    this.#sessionContext = {
      log: options.log,
      recent: options.recent,
      logger: options.logger,
      store: options.store,
      maxOutgoingPacketCount: options.maxOutgoingPacketCount,
      repump: (s) => this.session(s),
      fail: options.fail,
    };
  }

  /** From now on nothing new is sent. */
  stop(): void {
    this.#delivering = false;
  }

  /** Delivers what the session is owed (retained messages, then the log from its cursor) and feeds its groups. */
  session(session: Session): void {
    if (!this.#delivering) return;
    pumpSession(session, this.#sessionContext);
    if (session.inGroups) for (const group of session.groups) this.group(group);
  }

  /**
   * Pumps `session` once the packets being handled now are done (a
   * microtask): the PUBACKs of one socket read free the window once and
   * refill it with one round.
   */
  soon(session: Session): void {
    if (this.#due.size === 0) queueMicrotask(this.#pumpDue);
    this.#due.add(session);
  }

  readonly #pumpDue = (): void => {
    const sessions = [...this.#due];
    this.#due.clear();
    for (const session of sessions) this.session(session);
  };

  group(group: SharedGroup): void {
    if (this.#delivering) pumpGroup(group, this.#groupContext);
  }

  /** A commit made offsets of these indices visible: their readers are fed, the indices trimmed. */
  committed(dirty: ReadonlySet<FilterIndex<Session, SharedGroup>>): void {
    const sessions = new Set<Session>();
    const groups = new Set<SharedGroup>();
    for (const index of dirty) {
      for (const s of index.subscribers) sessions.add(s);
      for (const g of index.groups) groups.add(g);
    }
    if (this.#delivering) {
      for (const session of sessions) pumpSession(session, this.#sessionContext);
      for (const group of groups) this.group(group);
    }
    for (const index of dirty) this.#options.table.trimConsumed(index, TRIM_THRESHOLD);
  }
}
