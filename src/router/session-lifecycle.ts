// A session's life around its connections: attached to a link on CONNECT
// (created, resumed or taken over), its unacknowledged messages resent when the
// CONNACK is out, detached on a close, ended by its expiry timer or a clean
// start, and written to the storage index when it is persistent.
//
// Who calls it: the router, which owns the sessions map and passes it in here
// with the parts a session touches (the will keeper, the session store, the
// subscription table); restore.ts arms the expiry of restored sessions
// through the router.
//
// Invariants:
// - a client id has at most one session in the map, and a session at most one link;
// - a removed session holds no subscription, no shared-group message and no stored record.

import type { Logger } from "../log.ts";
import { armDeadline } from "./deadline.ts";
import type { RouterLog } from "./delivery.ts";
import { type AckDeps, reclaimShared } from "./outbound-acks.ts";
import { resendOf } from "./outgoing.ts";
import { NEVER_EXPIRES_SEC, Session, type SessionLink } from "./session.ts";
import type { SessionStore } from "./session-store.ts";
import type { SubscriptionTable } from "./subscription-table.ts";
import { cancelWill, type Will, type WillKeeper } from "./will-timer.ts";

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

export interface LifecycleDeps {
  sessions: Map<string, Session>;
  log: RouterLog;
  logger: Logger;
  store: SessionStore | undefined;
  table: SubscriptionTable;
  acks: AckDeps;
  wills: WillKeeper;
}

/**
 * Attaches a link to a new or resumed session; returns the session and the
 * session-present flag ([MQTT-3.2.2-1..3]). An older link on the same client
 * id is taken over first ([MQTT-3.1.4-2]). Atomic: no await inside.
 */
export function connectSession(
  deps: LifecycleDeps,
  request: ConnectRequest,
): { session: Session; sessionPresent: boolean } {
  const log = request.logger.child({ client_id: request.clientId });
  let session = deps.sessions.get(request.clientId);
  if (session?.link !== undefined) {
    const old = session.link;
    session.link = undefined;
    old.takeOver();
    log.info({ event: "session.taken_over" }, "session taken over");
    reclaimShared(deps.acks, session);
    // The old connection closed: its will follows the rules of a lost
    // connection (a delayed one is cancelled just below).
    deps.wills.connectionLost(session);
  }
  if (session !== undefined) deps.wills.reconnected(session, request.cleanStart);
  if (session !== undefined && request.cleanStart) {
    removeSession(deps, session);
    session = undefined;
  }
  const sessionPresent = session !== undefined;
  if (session === undefined) {
    session = new Session(
      request.clientId,
      deps.log.committedOffset,
      request.persistent,
      request.expiryIntervalSec,
    );
    deps.sessions.set(request.clientId, session);
    log.debug({ event: "session.created" }, "session created");
  } else {
    session.expiryTimer?.cancel();
    session.expiryTimer = undefined;
    session.persistent = request.persistent;
    session.expiryIntervalSec = request.expiryIntervalSec;
    log.debug({ event: "session.resumed" }, "session resumed");
  }
  session.link = request.link;
  session.disconnectedAtMs = undefined;
  session.will = request.will;
  session.maxInflight = request.maxInflight;
  if (request.persistent) storeSession(deps.store, session);
  return { session, sessionPresent };
}

/** Resends every unacknowledged message with DUP set ([MQTT-4.4.0-1]), and the PUBRELs awaiting PUBCOMP. */
export function resendInflight(session: Session, link: SessionLink, nowMs: number): void {
  for (const [packetId, entry] of session.inflight) {
    if (entry.phase === "publish")
      link.sendPublish(resendOf(entry.publish, entry.expiresAtMs, nowMs));
    else link.sendPubrel(packetId);
  }
}

/**
 * Detaches `link` from its session. `publishWill` is false only after a
 * normal DISCONNECT ([MQTT-3.14.4-3]). A non-persistent session is removed.
 */
export function disconnectSession(
  deps: LifecycleDeps,
  session: Session,
  link: SessionLink,
  options: { publishWill: boolean },
): void {
  if (session.link !== link) return; // taken over: the new link owns the session now
  session.link = undefined;
  session.disconnectedAtMs = Date.now();
  reclaimShared(deps.acks, session);
  if (options.publishWill) deps.wills.connectionLost(session);
  else session.will = undefined;
  if (!session.persistent) {
    removeSession(deps, session);
    return;
  }
  storeSession(deps.store, session);
  armExpiry(deps, session, session.expiryIntervalSec * 1000);
}

/** Ends an offline v5 session after its expiry interval; 3.1.1 sessions (0) never expire. */
export function armExpiry(deps: LifecycleDeps, session: Session, remainingMs: number): void {
  const expirySec = session.expiryIntervalSec;
  if (expirySec === 0 || expirySec === NEVER_EXPIRES_SEC) return;
  // Up to 2^32-1 s: longer than one Node timer, so deadline.ts waits it in several.
  session.expiryTimer = armDeadline(Date.now() + remainingMs, () => {
    session.expiryTimer = undefined;
    if (session.link !== undefined) return;
    // A will still waiting is published when its session ends (spec 3.1.3.2.2).
    deps.wills.publishNow(session);
    removeSession(deps, session);
    deps.logger.info({ event: "session.expired", client_id: session.clientId }, "expired");
  });
}

/** Queues the session's record (expiry, when it went offline, its will); the next flush makes it durable. */
export function storeSession(store: SessionStore | undefined, session: Session): void {
  if (store === undefined) return;
  store.putSession(
    session.clientId,
    session.expiryIntervalSec,
    session.disconnectedAtMs ?? null,
    session.will,
  );
  session.stored = true;
}

/** Ends a session: its timers, its shared-group messages, its stored record and its subscriptions. */
export function removeSession(deps: LifecycleDeps, session: Session): void {
  session.expiryTimer?.cancel();
  cancelWill(session);
  reclaimShared(deps.acks, session);
  if (session.stored) {
    deps.store?.forget(session.clientId);
    session.stored = false;
  }
  for (const group of deps.table.removeAll(session)) deps.store?.delGroup(group.key);
  if (deps.sessions.get(session.clientId) === session) deps.sessions.delete(session.clientId);
}
