// Inbound QoS 2 (spec 4.3.3, method A): a PUBLISH is appended once per packet
// id until its PUBREL; a resent PUBLISH with the same id waits for the first
// copy's commit instead of being appended again ([MQTT-4.3.3-10]). For a
// stored session the id is written beside the log append (restore.ts checks
// it against the log after a kill).
//
// Who calls it: the router (receiveQos2 / releaseQos2 for the link).

import type { Message, Origin } from "./message.ts";
import type { RetainedStore } from "./retained-store.ts";
import type { Session } from "./session.ts";
import type { SessionStore } from "./session-store.ts";

export interface InboundDeps {
  /** Appends to the log in this turn; returns the offset. */
  append: (message: Message, origin: Origin | undefined) => number;
  /** Resolves when everything appended so far is committed. */
  committed: () => Promise<void>;
  retained: RetainedStore;
  store: SessionStore | undefined;
}

/** A QoS 2 PUBLISH; resolves when the caller may send PUBREC. */
export function receiveQos2(
  deps: InboundDeps,
  session: Session,
  packetId: number,
  message: Message,
): Promise<void> {
  const pending = session.inboundQos2.get(packetId);
  if (pending !== undefined) return pending;
  const store = deps.store;
  const persist = store !== undefined && session.persistent;
  const offset = deps.append(
    message,
    persist ? { clientId: session.clientId, packetId } : undefined,
  );
  // [QoS 2 across a restart] the id is stored with the message's offset in
  // the same turn as the append, and PUBREC waits for both to be durable:
  // a kill between the two leaves either nothing (the resend is stored) or
  // an id whose offset restore checks against the log.
  let stored: Promise<void> | undefined;
  if (persist) {
    store.putInbound(session.clientId, packetId, offset);
    session.stored = true;
    stored = store.flush();
  }
  const commit = Promise.all([deps.committed(), stored]).then(async () => {
    if (message.retain) await deps.retained.store(message);
  });
  session.inboundQos2.set(packetId, commit);
  // A failed commit must not leave the id "received": the client resends it.
  commit.catch(() => session.inboundQos2.delete(packetId));
  return commit;
}

/**
 * PUBREL: forgets the packet id, durably before the caller sends PUBCOMP
 * (else a new PUBLISH reusing the id after a restart would be taken for a
 * duplicate). Resolves to false when the id was unknown.
 */
export async function releaseQos2(
  deps: InboundDeps,
  session: Session,
  packetId: number,
): Promise<boolean> {
  const known = session.inboundQos2.delete(packetId);
  if (known && session.stored && deps.store !== undefined) {
    deps.store.delInbound(session.clientId, packetId);
    await deps.store.flush();
  }
  return known;
}
