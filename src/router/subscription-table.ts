// The subscription tree: every subscribed filter with its shared FilterIndex
// of matching log offsets and the sessions subscribed to it. A filter's index
// exists while at least one session (online or offline) subscribes to it.
//
// Who calls it: the router (SUBSCRIBE, UNSUBSCRIBE, session removal, append
// matching, restore). Never validates filters: the router has done that.

import { FilterIndex } from "./filter-index.ts";
import { FilterTree } from "./filter-tree.ts";
import type { Qos } from "./message.ts";
import type { Session } from "./session.ts";

export class SubscriptionTable {
  readonly #tree = new FilterTree<FilterIndex<Session>>();

  /** Subscribes `session` to `filter`; an existing subscription only changes its QoS ([MQTT-3.8.4-3]). */
  add(session: Session, filter: string, qos: Qos, sinceOffset: number): void {
    const existing = session.subscriptions.get(filter);
    if (existing !== undefined) {
      existing.qos = qos;
      return;
    }
    let index = this.#tree.get(filter);
    if (index === undefined) {
      index = new FilterIndex<Session>(filter);
      this.#tree.set(filter, index);
    }
    index.subscribers.add(session);
    session.subscriptions.set(filter, { filter, qos, sinceOffset, index });
  }

  /** Removes one subscription; false when the session had none for `filter`. */
  remove(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) return false;
    session.subscriptions.delete(filter);
    sub.index.subscribers.delete(session);
    if (sub.index.subscribers.size === 0) this.#tree.delete(filter);
    return true;
  }

  removeAll(session: Session): void {
    for (const filter of [...session.subscriptions.keys()]) this.remove(session, filter);
  }

  /** The indices of every subscribed filter matching `topic` ([MQTT-4.7.2-1] applies). */
  match(topic: string): FilterIndex<Session>[] {
    return this.#tree.match(topic).map(([, index]) => index);
  }

  /**
   * Forgets the offsets of `index` that every subscriber has passed, once it
   * holds at least `threshold` of them, so that an index fed by caught-up
   * sessions stays small. An offline session keeps what it has not read.
   */
  trimConsumed(index: FilterIndex<Session>, threshold: number): void {
    if (index.length < threshold) return;
    let needed = Number.POSITIVE_INFINITY;
    for (const session of index.subscribers) {
      const sub = session.subscriptions.get(index.filter);
      needed = Math.min(needed, Math.max(session.cursor, sub?.sinceOffset ?? 0));
    }
    if (Number.isFinite(needed)) index.trimBefore(needed);
  }

  /** The log dropped offsets below `startOffset`: every index forgets them. */
  trimBefore(startOffset: number): void {
    for (const [, index] of this.#tree.entries()) index.trimBefore(startOffset);
  }
}
