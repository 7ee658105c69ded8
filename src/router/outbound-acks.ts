// The end of outgoing deliveries: PUBACK, PUBREC and PUBCOMP from a client
// free their packet ids (durably for a stored session) and make room in the
// inflight window; a shared group's QoS 1 message is then done for the group
// too. When a client's connection goes away, the QoS 1 messages groups handed
// it and it has not acknowledged go back to their groups (shared-group.ts).
//
// Who calls it: the router, for the acks links pass on and for departures.

import type { Session } from "./session.ts";
import type { SessionStore } from "./session-store.ts";
import type { SharedGroup } from "./shared-group.ts";

export interface AckDeps {
  store: SessionStore | undefined;
  pump: (session: Session) => void;
  pumpGroup: (group: SharedGroup) => void;
}

/** PUBACK from the client; false when the packet id is not inflight as QoS 1. */
export function puback(deps: AckDeps, session: Session, packetId: number): boolean {
  const entry = session.inflight.get(packetId);
  if (entry === undefined || entry.publish.qos !== 1) return false;
  release(deps, session, packetId);
  return true;
}

/**
 * PUBREC from the client: the message moves to the PUBREL phase, or, when
 * the client refused it (a v5 reason code >= 0x80), its delivery ends here
 * (for a shared subscription too: not sent to another member [MQTT-4.8.2-6]).
 */
export async function pubrec(
  deps: AckDeps,
  session: Session,
  packetId: number,
  refused: boolean,
): Promise<boolean> {
  const entry = session.inflight.get(packetId);
  if (entry === undefined || entry.publish.qos !== 2) return false;
  if (refused) {
    release(deps, session, packetId);
  } else {
    entry.phase = "pubrel";
    if (session.stored && deps.store !== undefined) {
      // Durable before PUBREL goes out: after a restart the message is never
      // sent again as a PUBLISH once its PUBREL may have been (spec 4.3.3).
      deps.store.putOutbound(session.clientId, packetId, entry);
      await deps.store.flush();
    }
  }
  return true;
}

/** PUBCOMP from the client: the QoS 2 delivery is complete and its packet id free. */
export function pubcomp(deps: AckDeps, session: Session, packetId: number): boolean {
  const entry = session.inflight.get(packetId);
  if (entry === undefined || entry.phase !== "pubrel") return false;
  release(deps, session, packetId);
  return true;
}

/**
 * An outgoing delivery ended: its packet id is free (durably) and the
 * window has room. A shared group's QoS 1 message is done for the group too
 * (also when refused: [MQTT-4.8.2-6]); the index never held it for the session.
 */
function release(deps: AckDeps, session: Session, packetId: number): void {
  const entry = session.inflight.get(packetId);
  session.inflight.delete(packetId);
  const group = entry?.group;
  if (entry !== undefined && group !== undefined && entry.offset !== null) {
    if (!group.ended) {
      group.unacked.delete(entry.offset);
      deps.store?.putGroup(group);
    }
  } else if (session.stored) {
    deps.store?.delOutbound(session.clientId, packetId);
  }
  deps.pump(session);
}

/**
 * A session's connection went away: the QoS 1 messages shared groups handed
 * it and it has not acknowledged go back to their groups, for another member
 * (spec 4.8.2 allows it as soon as the connection is lost). QoS 2 ones stay
 * with the session: [MQTT-4.8.2-4], [MQTT-4.8.2-5].
 */
export function reclaimShared(deps: AckDeps, session: Session): void {
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
    deps.store?.putGroup(group);
    deps.pumpGroup(group);
  }
}
