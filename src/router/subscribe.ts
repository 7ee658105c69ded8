// SUBSCRIBE and UNSUBSCRIBE in the router: each filter is validated (shared
// ones `$share/<group>/<filter>` too), added to the subscription table with
// its MQTT 5 options, written ahead for a persistent session (before SUBACK),
// and the retained messages it owes are queued per Retain Handling.
//
// Who calls it: Router.subscribe / Router.unsubscribe, which own the state
// passed in here. Never touches a socket.

import { type ReasonCodeName, topicFilterProblem } from "../protocol/index.ts";
import type { RouterLog } from "./delivery.ts";
import type { Qos } from "./message.ts";
import { outgoingPublish } from "./outgoing.ts";
import type { RetainedStore } from "./retained-store.ts";
import type { Session, SubscriptionOptions } from "./session.ts";
import type { SessionStore } from "./session-store.ts";
import { parseSharedFilter } from "./shared-group.ts";
import type { SubscriptionTable } from "./subscription-table.ts";

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

export interface SubscribeDeps {
  log: RouterLog;
  table: SubscriptionTable;
  retained: RetainedStore;
  store: SessionStore | undefined;
}

/**
 * One result per request, in order ([MQTT-3.8.4-5]). The subscriptions of a
 * persistent session are durable when this resolves, so the caller may send
 * SUBACK; the retained messages owed are queued then.
 */
export async function subscribeSession(
  deps: SubscribeDeps,
  session: Session,
  requests: SubscribeRequest[],
): Promise<SubscribeResult[]> {
  const store = deps.store;
  const persist = store !== undefined && session.persistent;
  const owed: Array<{ request: SubscribeRequest; existed: boolean }> = [];
  const results = requests.map((request): SubscribeResult => {
    const shared = parseSharedFilter(request.filter);
    // [MQTT-4.8.2-1] [MQTT-4.8.2-2] A bad share name is an invalid topic filter (0x8F).
    const invalid =
      shared === "invalid" ||
      (shared === undefined && topicFilterProblem(request.filter) !== undefined);
    if (invalid) return { refused: "TopicFilterInvalid" };
    const options = optionsOf(request);
    const since = deps.log.committedOffset;
    const { existed, newGroup } = deps.table.add(session, request.filter, options, since);
    if (newGroup !== undefined) store?.putGroup(newGroup);
    const sub = session.subscriptions.get(request.filter);
    if (persist && sub !== undefined) {
      store.putSubscription(session.clientId, sub.filter, sub, sub.sinceOffset);
      session.stored = true;
    }
    // Retained messages are not sent on a shared subscription (spec 4.8.2).
    if (shared === undefined) owed.push({ request, existed });
    return { granted: request.qos };
  });
  if (persist) await store.flush();
  const now = Date.now();
  for (const { request, existed } of owed) queueRetained(deps, session, request, existed, now);
  return results;
}

/** "Success" or "NoSubscriptionExisted" per filter ([MQTT-3.10.4-1]), durable when it resolves. */
export async function unsubscribeSession(
  deps: SubscribeDeps,
  session: Session,
  filters: string[],
): Promise<Array<"Success" | "NoSubscriptionExisted">> {
  const store = deps.store;
  const results = filters.map((filter) => {
    const { removed, endedGroup } = deps.table.remove(session, filter);
    if (endedGroup !== undefined) store?.delGroup(endedGroup.key);
    if (removed && session.stored) store?.delSubscription(session.clientId, filter);
    return removed ? ("Success" as const) : ("NoSubscriptionExisted" as const);
  });
  if (session.stored) await store?.flush();
  return results;
}

/**
 * The retained messages a SUBSCRIBE owes, with RETAIN set ([MQTT-3.3.1-9]
 * Retain Handling 0: always, [MQTT-3.3.1-10] 1: for a new subscription only,
 * [MQTT-3.3.1-11] 2: never), at the minimum QoS, with the subscription's
 * identifier and the expiry left.
 */
function queueRetained(
  deps: SubscribeDeps,
  session: Session,
  request: SubscribeRequest,
  existed: boolean,
  now: number,
): void {
  const handling = request.retainHandling ?? 0;
  if (handling === 2 || (handling === 1 && existed)) return;
  for (const retained of deps.retained.match(request.filter, now)) {
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

function optionsOf(request: SubscribeRequest): SubscriptionOptions {
  return {
    qos: request.qos,
    noLocal: request.noLocal ?? false,
    retainAsPublished: request.retainAsPublished ?? false,
    retainHandling: request.retainHandling ?? 0,
    subscriptionId: request.subscriptionId,
  };
}
