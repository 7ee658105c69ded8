// Wills (spec 3.1.2.5, 3.1.3.2): when a session's connection closes without a
// normal DISCONNECT, its will is published once the Will Delay Interval has
// passed or the session ends, whichever comes first; not at all if a new
// connection resumes the session before then ([MQTT-3.1.3-9]).
//
// Durability (issue 4): the will is part of a persistent session's stored
// record (session-store.ts putSession), from CONNECT until it is published or
// discarded. After a restart, a stored will is due at the time its session
// went offline (a session that was online when the broker stopped or was
// killed went offline then) plus its delay; one whose time passed while the
// broker was down is published at start. A will published just before a kill
// may be published again after it (its removal from the record is written
// after its commit): a will is never lost, it may come twice.
//
// Who calls it: the router (connect, disconnect, expiry, restore: through
// WillKeeper) and persistence.ts (the stored form). Helpers, the timer per
// session, and WillKeeper, which decides when a session's will goes out.

import type { JsonValue } from "../../storage/index.ts";
import type { Logger } from "../log.ts";
import { armDeadline } from "./deadline.ts";
import type { Message } from "./message.ts";
import { NEVER_EXPIRES_SEC, type Session } from "./session.ts";

export interface Will {
  /** The will message; its expiresAtMs is set when it is published. */
  message: Message;
  /** MQTT 5 Will Delay Interval in seconds (0 in 3.1.1). */
  delaySec: number;
  /** MQTT 5 Message Expiry Interval of the will, counted from its publication. */
  expirySec: number | undefined;
}

/**
 * How long after the connection closed the will is published: the will
 * delay, or less if the session ends first (a non-persistent session ends
 * at once; an MQTT 5 session after its expiry interval).
 */
export function willDelayMs(session: Session, will: Will): number {
  if (!session.persistent) return 0;
  const expirySec = session.expiryIntervalSec;
  const sessionEndsSec = expirySec === 0 || expirySec === NEVER_EXPIRES_SEC ? Infinity : expirySec;
  return Math.min(will.delaySec, sessionEndsSec) * 1000;
}

/** The message to append when the will is published at `nowMs`. */
export function willMessage(will: Will, nowMs: number): Message {
  return {
    ...will.message,
    expiresAtMs: will.expirySec === undefined ? null : nowMs + will.expirySec * 1000,
  };
}

/**
 * Calls `fire` in `inMs` (at once when due already), replacing any earlier
 * timer; a delay longer than one Node timer is waited in full (deadline.ts).
 */
export function armWill(session: Session, inMs: number, fire: () => void): void {
  cancelWill(session);
  session.willTimer = armDeadline(Date.now() + inMs, () => {
    session.willTimer = undefined;
    fire();
  });
}

export function cancelWill(session: Session): void {
  session.willTimer?.cancel();
  session.willTimer = undefined;
}

/** The stored form of a will (inside the session record). */
export function willToJson(
  will: Will,
  messageToJson: (m: Message) => Record<string, JsonValue>,
): Record<string, JsonValue> {
  return {
    ...messageToJson(will.message),
    delaySec: will.delaySec,
    expirySec: will.expirySec ?? null,
  };
}

export interface WillDeps {
  /** Appends the will message; resolves once committed. */
  publish: (message: Message) => Promise<void>;
  /** A session's will was published: its stored record is rewritten without it. */
  published: (session: Session) => void;
  logger: Logger;
}

/** When each session's will is published, or cancelled. */
export class WillKeeper {
  readonly #deps: WillDeps;

  constructor(deps: WillDeps) {
    this.#deps = deps;
  }

  /**
   * The connection closed without a normal DISCONNECT ([MQTT-3.1.2-8]): the
   * will goes out now, or once its delay (or the session) ends.
   */
  connectionLost(session: Session): void {
    const will = session.will;
    if (will === undefined) return;
    const delayMs = willDelayMs(session, will);
    if (delayMs === 0) this.publishNow(session);
    else armWill(session, delayMs, () => this.publishNow(session));
  }

  /**
   * A new connection for an existing session, after any take-over. With
   * Clean Start the old session ends, and a will it still holds goes out
   * (spec 3.1.3.2.2: "or the Session ends"); otherwise it is cancelled
   * ([MQTT-3.1.3-9]). Either way the new connection's will replaces it.
   */
  reconnected(session: Session, cleanStart: boolean): void {
    if (cleanStart) this.publishNow(session);
    cancelWill(session);
    session.will = undefined;
  }

  /** Publishes the session's will now, if it has one. */
  publishNow(session: Session): void {
    cancelWill(session);
    const will = session.will;
    session.will = undefined;
    if (will === undefined) return;
    this.publishStored(session.clientId, will, () => this.#deps.published(session));
  }

  /** Publishes a will (of a session that ended while the broker was down, or now). */
  publishStored(clientId: string, will: Will, then?: () => void): void {
    // The will's fate is logged; nobody waits for it.
    this.#deps.publish(willMessage(will, Date.now())).then(then, (error: unknown) => {
      this.#deps.logger.error(
        { event: "will.failed", err: error, client_id: clientId },
        "will lost",
      );
    });
  }

  /** After a restart: a restored session's will is due its delay after the session went offline. */
  armRestored(session: Session, nowMs: number): void {
    const will = session.will;
    if (will === undefined) return;
    const dueAtMs = (session.disconnectedAtMs ?? nowMs) + willDelayMs(session, will);
    armWill(session, dueAtMs - Date.now(), () => this.publishNow(session));
  }
}
