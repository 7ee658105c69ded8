// Delivery for a shared group (shared-group.ts): hands the group's next
// offsets, one by one, to the member its strategy picks among those that are
// connected and have room, in log order (offsets to send again first). Each
// message goes to exactly one member, at the minimum of its QoS and that
// member's granted QoS ([MQTT-4.8.2-3]), with that subscription's identifier.
//
// Durability: the group's new position and the members' QoS 2 packet-id
// assignments are queued in one index batch; the round's PUBLISHes go out
// once it is durable (QoS 1 messages are kept by the group's pending list,
// not by the member: see shared-group.ts). A member that went away in the
// meantime gets nothing: its QoS 1 messages are back with the group already.
//
// Who calls it: the router (after a commit, when a member has room again,
// when a member leaves). Never touches a socket except through SessionLink.

import type { Logger } from "../log.ts";
import {
  addInflight,
  decoded,
  deliveryOf,
  type RouterLog,
  readAsync,
  recordAt,
} from "./delivery.ts";
import type { OutgoingPublish } from "./message.ts";
import { isExpired } from "./outgoing.ts";
import type { Session, SessionLink } from "./session.ts";
import type { SessionStore } from "./session-store.ts";
import type { SharedGroup, SharedStrategy } from "./shared-group.ts";

export interface GroupPumpContext {
  log: RouterLog;
  logger: Logger;
  store: SessionStore | undefined;
  strategy: SharedStrategy;
  /** Messages one group hands out per turn, and the bound on a member's waiting sends. */
  maxOutgoingPacketCount: number;
  /** Pump the group again later (after an async read, or on the next turn). */
  repump: (group: SharedGroup) => void;
  /** Pump a member's own delivery (its sends went out). */
  pumpMember: (session: Session) => void;
  fail: (error: unknown) => void;
}

/** Groups with a next-turn pump already scheduled. */
const scheduled = new WeakSet<SharedGroup>();

export function pumpGroup(group: SharedGroup, ctx: GroupPumpContext): void {
  if (group.ended || group.reading) return;
  const rounds = new Map<Session, { link: SessionLink; publishes: OutgoingPublish[] }>();
  const { budgetLeft, changed } = handOut(group, ctx, (member, link, publish) => {
    let round = rounds.get(member);
    if (round === undefined) {
      round = { link, publishes: [] };
      rounds.set(member, round);
    }
    round.publishes.push(publish);
  });
  if (changed) ctx.store?.putGroup(group);
  for (const [member, round] of rounds) sendRound(member, round.link, round.publishes, ctx);
  if (budgetLeft === 0 && !scheduled.has(group)) {
    scheduled.add(group);
    setImmediate(() => {
      scheduled.delete(group);
      ctx.repump(group);
    });
  }
}

/** A member can take a message now: connected, not backed up, room in its inflight window. */
function ready(session: Session, ctx: GroupPumpContext): boolean {
  return (
    session.link?.writable === true &&
    session.pendingSends < ctx.maxOutgoingPacketCount &&
    session.inflightCount < session.maxInflight
  );
}

/** Picks the messages of this round and their members; returns the budget left. */
function handOut(
  group: SharedGroup,
  ctx: GroupPumpContext,
  emit: (member: Session, link: SessionLink, publish: OutgoingPublish) => void,
): { budgetLeft: number; changed: boolean } {
  let budget = ctx.maxOutgoingPacketCount;
  let changed = false;
  const now = Date.now();
  while (budget > 0) {
    const next = group.next(ctx.log.committedOffset);
    if (next === undefined) break;
    const record = recordAt(group, next.offset, ctx.log);
    if (record === undefined) {
      readAsync(group, next.offset, ctx, () => ctx.repump(group));
      break;
    }
    if (record.offset > next.offset) {
      // The log no longer holds this offset (budget deletion or a damaged record).
      ctx.logger.warn(
        { event: "message.skipped", group: group.key, offset: next.offset },
        "shared group: message no longer in the log",
      );
      if (next.again) group.consume(next.offset, true);
      else group.skipTo(record.offset);
      changed = true;
      continue;
    }
    if (isExpired(record.expiresAtMs, now)) {
      // [MQTT-3.3.2-5] Expired before it reached a member: dropped for the group.
      group.consume(next.offset, next.again);
      changed = true;
      continue;
    }
    const member = group.pick(ctx.strategy, (s) => ready(s, ctx));
    const sub = member?.subscriptions.get(group.key);
    if (member === undefined || sub === undefined || member.link === undefined) break;
    group.consume(next.offset, next.again);
    changed = true;
    const publish = deliveryOf(member, decoded(record), [sub], now);
    if (publish === undefined) continue;
    if (publish.qos > 0) {
      const entry = addInflight(member, publish, record.offset, record.expiresAtMs);
      if (publish.qos === 1) {
        entry.group = group;
        group.unacked.add(record.offset);
      } else if (ctx.store !== undefined && member.persistent) {
        // [MQTT-4.8.2-4] A QoS 2 message stays with this member: stored like its own.
        ctx.store.putOutbound(member.clientId, publish.packetId as number, entry);
        member.stored = true;
      }
    }
    emit(member, member.link, publish);
    budget--;
  }
  return { budgetLeft: budget, changed };
}

/** Sends one member's share of a round once the group's position is durable. */
function sendRound(
  member: Session,
  link: SessionLink,
  publishes: OutgoingPublish[],
  ctx: GroupPumpContext,
): void {
  const store = ctx.store;
  // As in delivery.ts, a round of QoS 0 messages needs nothing durable first.
  const now =
    store === undefined || (member.pendingSends === 0 && publishes.every((p) => p.qos === 0));
  if (now) {
    for (const publish of publishes) link.sendPublish(publish);
    return;
  }
  member.pendingSends += publishes.length;
  store.flush().then(
    () => {
      member.pendingSends -= publishes.length;
      if (member.link !== link) return;
      for (const publish of publishes) {
        // A QoS 1 message taken back when the member went away (and came back) is not sent.
        const live =
          publish.qos === 0 || member.inflight.get(publish.packetId as number)?.publish === publish;
        if (live) link.sendPublish(publish);
      }
      ctx.pumpMember(member);
    },
    () => {
      // The store reported the failure as fatal; nothing is sent after it.
      member.pendingSends -= publishes.length;
    },
  );
}
