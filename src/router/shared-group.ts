// Shared subscriptions (MQTT 5 spec 4.8.2; 3.1.1 clients may use them too,
// as mosquitto and EMQX allow): `$share/<group>/<filter>` subscriptions with
// the same group name and filter form one group, and each message matching
// the filter reaches exactly one member of the group.
//
// Design, over the shared log (DESIGN.md: sessions hold cursors, never copies):
// - A group reads the filter's FilterIndex (the same index non-shared
//   subscribers of that filter read) from its own cursor, and hands each
//   offset to one member chosen by `router.shared_subscriptions_strategy`
//   among the members that are connected and have room in their inflight
//   window; with none, the offset waits in the log.
// - The group's position is durable: the index's `cursors` keyspace holds,
//   under the owner GROUP_OWNER ("", never a client id: the broker assigns
//   one to an empty id) and the group's filter, `{ cursor, pending }`;
//   `pending` are the offsets below the cursor that are not done yet (QoS 1
//   messages sent and not acknowledged, and those waiting to be sent again).
//   It is written in the batch that carries the members' packet-id
//   assignments, before the PUBLISHes go out (session-store.ts), so a restart
//   resumes where the group was: nothing is lost, and nothing acknowledged
//   is handed out again.
// - A QoS 1 message in flight to a member that goes away (disconnect, session
//   end) goes back to the group and to another member (spec 4.8.2 allows it
//   "as soon as it loses its connection"); after a restart every pending
//   offset is handed out again. A QoS 2 message stays with its member, which
//   completes it when it reconnects ([MQTT-4.8.2-4]) and whose session
//   stores it like any QoS 2 delivery; if that session ends first it is
//   not sent to another member ([MQTT-4.8.2-5]). A message the member
//   refuses (reason code >= 0x80) is not sent to another ([MQTT-4.8.2-6]).
// - Membership is each member session's subscription (stored with the
//   session); a group exists while it has members and is rebuilt from them at
//   restart, its record read back from the index. Retained messages are not
//   sent on a shared subscription (spec 4.8.2).
//
// Who calls it: subscription-table.ts (membership), shared-delivery.ts
// (handing out offsets), the router (acks, member departure, restore). Pure
// state; never touches the log, the index or a socket.
//
// Invariants:
// - cursor only grows; `redeliver` is ascending and below the cursor;
// - an offset is in at most one of `unacked` and `redeliver`.

import assert from "node:assert/strict";
import { topicFilterProblem } from "../protocol/index.ts";
import type { FilterIndex } from "./filter-index.ts";
import type { Session } from "./session.ts";

export type SharedStrategy = "roundrobin" | "random" | "sticky";

/** The owner of every group record in the index's `cursors` keyspace (no client id is empty). */
export const GROUP_OWNER = "";

const SHARE_PREFIX = "$share/";

/**
 * Splits `$share/<group>/<filter>`: undefined when `filter` is not a shared
 * subscription, "invalid" when it is one with a bad group name or filter
 * ([MQTT-4.8.2-1] a group name of one character at least, [MQTT-4.8.2-2] no
 * "/", "+" or "#" in it, followed by "/" and a valid topic filter).
 */
export function parseSharedFilter(
  filter: string,
): { shareName: string; topicFilter: string } | "invalid" | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const rest = filter.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return "invalid";
  const shareName = rest.slice(0, slash);
  if (shareName.includes("+") || shareName.includes("#")) return "invalid";
  const topicFilter = rest.slice(slash + 1);
  if (topicFilterProblem(topicFilter) !== undefined) return "invalid";
  return { shareName, topicFilter };
}

/** What the index holds for a group (GROUP_OWNER, filter). */
export interface GroupRecord {
  cursor: number;
  pending: number[];
}

export class SharedGroup {
  /** The subscribed filter, `$share/<group>/<filter>`: the group's name everywhere. */
  readonly key: string;
  readonly index: FilterIndex<Session, SharedGroup>;
  /** Members in the order they joined (round robin goes through them in this order). */
  readonly members: Session[] = [];
  /** The next offset of the index this group considers. */
  cursor: number;
  /** QoS 1 offsets handed to a member and not yet acknowledged. */
  readonly unacked = new Set<number>();
  /** True while an asynchronous log read for this group is in progress. */
  reading = false;
  /** The last member left: nothing is stored for this group any more. */
  ended = false;
  /** Offsets to hand out again, ascending (their member went away, or a restart). */
  readonly #redeliver: number[] = [];
  #nextMember = 0;
  #sticky: Session | undefined;

  constructor(key: string, index: FilterIndex<Session, SharedGroup>, cursor: number) {
    this.key = key;
    this.index = index;
    this.cursor = cursor;
  }

  addMember(session: Session): void {
    if (!this.members.includes(session)) this.members.push(session);
  }

  removeMember(session: Session): void {
    const i = this.members.indexOf(session);
    if (i < 0) return;
    this.members.splice(i, 1);
    if (this.#nextMember > i) this.#nextMember--;
    if (this.#sticky === session) this.#sticky = undefined;
  }

  /** Puts an offset back to be handed out again (its member went away before acknowledging). */
  requeue(offset: number): void {
    this.unacked.delete(offset);
    const list = this.#redeliver;
    let i = list.length;
    while (i > 0 && (list[i - 1] as number) > offset) i--;
    if (list[i - 1] !== offset) list.splice(i, 0, offset);
  }

  /** The next offset to hand out below `end`: one to send again first, then the index's. */
  next(end: number): { offset: number; again: boolean } | undefined {
    const again = this.#redeliver[0];
    if (again !== undefined) return { offset: again, again: true };
    const offset = this.index.nextAtOrAfter(this.cursor);
    if (offset === undefined || offset >= end) return undefined;
    return { offset, again: false };
  }

  /** The offset `next` returned is handed out (or skipped): the group moves past it. */
  consume(offset: number, again: boolean): void {
    if (again) {
      assert.equal(this.#redeliver[0], offset, "redelivered offsets are consumed in order");
      this.#redeliver.shift();
      return;
    }
    assert.ok(offset >= this.cursor, "a group's cursor only grows");
    this.cursor = offset + 1;
  }

  /** The log no longer holds the offsets below `offset`: the group skips them. */
  skipTo(offset: number): void {
    this.cursor = Math.max(this.cursor, offset);
  }

  /**
   * The member that gets the next message, or undefined when none can take
   * it now. `ready` says whether a member is connected and has room.
   * - roundrobin: the next ready member after the last one chosen;
   * - random: any ready member, uniformly;
   * - sticky: the member chosen last as long as it stays connected (it may be
   *   busy: then the message waits for it), else the next ready one.
   */
  pick(strategy: SharedStrategy, ready: (s: Session) => boolean): Session | undefined {
    const members = this.members;
    if (members.length === 0) return undefined;
    switch (strategy) {
      case "roundrobin":
        return this.#roundRobin(ready);
      case "random": {
        const candidates = members.filter(ready);
        return candidates[Math.floor(Math.random() * candidates.length)];
      }
      case "sticky": {
        const sticky = this.#sticky;
        if (sticky?.link !== undefined) return ready(sticky) ? sticky : undefined;
        this.#sticky = this.#roundRobin(ready);
        return this.#sticky;
      }
      default:
        return assertNever(strategy);
    }
  }

  #roundRobin(ready: (s: Session) => boolean): Session | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const at = (this.#nextMember + i) % n;
      const member = this.members[at] as Session;
      if (!ready(member)) continue;
      this.#nextMember = (at + 1) % n;
      return member;
    }
    return undefined;
  }

  /** What the index stores for this group. */
  record(): GroupRecord {
    const pending = [...this.unacked, ...this.#redeliver].sort((a, b) => a - b);
    return { cursor: this.cursor, pending };
  }

  /** Start: the stored position; every pending offset is handed out again. */
  restore(record: GroupRecord, startOffset: number, committedOffset: number): void {
    this.cursor = Math.min(Math.max(record.cursor, startOffset), committedOffset);
    for (const offset of record.pending) if (offset < this.cursor) this.requeue(offset);
  }

  /** Offsets at or after this one may still be read from the index. */
  get neededFrom(): number {
    return this.cursor;
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected strategy ${String(value)}`);
}
