// The subscription tree: every subscribed topic filter with its shared
// FilterIndex of matching log offsets, the sessions subscribed to it and the
// shared groups reading it. A filter's index exists while at least one
// session (online or offline) or group reads it. Each subscription keeps its
// MQTT 5 options (No Local, Retain As Published, Retain Handling, the
// subscription identifier); a `$share/<group>/<filter>` subscription makes
// its session a member of that group (shared-group.ts).
//
// Who calls it: the router (SUBSCRIBE, UNSUBSCRIBE, session removal, append
// matching, restore). Never validates filters: the router has done that.

import { FilterIndex } from "./filter-index.ts";
import { FilterTree } from "./filter-tree.ts";
import type { Session, SubscriptionOptions } from "./session.ts";
import { parseSharedFilter, SharedGroup } from "./shared-group.ts";

type Index = FilterIndex<Session, SharedGroup>;

/** Topics whose matches are remembered (all are forgotten when there are more). */
const MATCH_CACHE_TOPICS = 4096;

export class SubscriptionTable {
  readonly #tree = new FilterTree<Index>();
  /**
   * The indices each recently published topic matched: devices publish the
   * same topics again and again. Emptied whenever a filter is added to or
   * removed from the tree (only that changes what a topic matches).
   */
  readonly #matches = new Map<string, readonly Index[]>();
  readonly #groups = new Map<string, SharedGroup>();

  /**
   * Subscribes `session` to `filter` (validated; a shared one is
   * `$share/<group>/<filter>`). An existing subscription is replaced: its
   * options change, its place in the log does not, so no message is lost
   * ([MQTT-3.8.4-3]). Returns whether it existed (Retain Handling 1) and,
   * for a group created by this call, the group.
   */
  add(
    session: Session,
    filter: string,
    options: SubscriptionOptions,
    sinceOffset: number,
  ): { existed: boolean; newGroup: SharedGroup | undefined } {
    const existing = session.subscriptions.get(filter);
    if (existing !== undefined) {
      Object.assign(existing, options);
      return { existed: true, newGroup: undefined };
    }
    const shared = parseSharedFilter(filter);
    if (shared === "invalid") throw new Error(`invalid shared filter ${filter}`);
    const index = this.#indexOf(shared === undefined ? filter : shared.topicFilter);
    let group: SharedGroup | undefined;
    let newGroup: SharedGroup | undefined;
    if (shared === undefined) {
      index.subscribers.add(session);
    } else {
      group = this.#groups.get(filter);
      if (group === undefined) {
        group = new SharedGroup(filter, index, sinceOffset);
        newGroup = group;
        this.#groups.set(filter, group);
        index.groups.add(group);
      }
      group.addMember(session);
      session.groups.add(group);
    }
    session.subscriptions.set(filter, { ...options, filter, sinceOffset, index, group });
    return { existed: false, newGroup };
  }

  /**
   * Removes one subscription. `removed` is false when the session had none
   * for `filter`; `endedGroup` is the group its last member just left.
   */
  remove(
    session: Session,
    filter: string,
  ): { removed: boolean; endedGroup: SharedGroup | undefined } {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) return { removed: false, endedGroup: undefined };
    session.subscriptions.delete(filter);
    let endedGroup: SharedGroup | undefined;
    const group = sub.group;
    if (group === undefined) {
      sub.index.subscribers.delete(session);
    } else {
      group.removeMember(session);
      session.groups.delete(group);
      if (group.members.length === 0) {
        group.ended = true;
        endedGroup = group;
        this.#groups.delete(group.key);
        sub.index.groups.delete(group);
      }
    }
    if (sub.index.unused) {
      this.#tree.delete(sub.index.filter);
      this.#matches.clear();
    }
    return { removed: true, endedGroup };
  }

  /** Removes every subscription of a session; returns the groups that ended. */
  removeAll(session: Session): SharedGroup[] {
    const ended: SharedGroup[] = [];
    for (const filter of [...session.subscriptions.keys()]) {
      const { endedGroup } = this.remove(session, filter);
      if (endedGroup !== undefined) ended.push(endedGroup);
    }
    return ended;
  }

  /** The indices of every subscribed filter matching `topic` ([MQTT-4.7.2-1] applies). */
  match(topic: string): readonly Index[] {
    const known = this.#matches.get(topic);
    if (known !== undefined) return known;
    const found = this.#tree.match(topic).map(([, index]) => index);
    if (this.#matches.size >= MATCH_CACHE_TOPICS) this.#matches.clear();
    this.#matches.set(topic, found);
    return found;
  }

  /** A live group by its filter (`$share/<group>/<filter>`). */
  group(key: string): SharedGroup | undefined {
    return this.#groups.get(key);
  }

  groups(): IterableIterator<SharedGroup> {
    return this.#groups.values();
  }

  /**
   * Forgets the offsets of `index` that every reader has passed, once it
   * holds at least `threshold` of them, so that an index fed by caught-up
   * sessions stays small. An offline session or a group keeps what it has not read.
   */
  trimConsumed(index: Index, threshold: number): void {
    if (index.length < threshold) return;
    let needed = Number.POSITIVE_INFINITY;
    for (const session of index.subscribers) {
      const sub = session.subscriptions.get(index.filter);
      needed = Math.min(needed, Math.max(session.cursor, sub?.sinceOffset ?? 0));
    }
    for (const group of index.groups) needed = Math.min(needed, group.neededFrom);
    if (Number.isFinite(needed)) index.trimBefore(needed);
  }

  /** The log dropped offsets below `startOffset`: every index forgets them. */
  trimBefore(startOffset: number): void {
    for (const [, index] of this.#tree.entries()) index.trimBefore(startOffset);
  }

  #indexOf(topicFilter: string): Index {
    let index = this.#tree.get(topicFilter);
    if (index === undefined) {
      index = new FilterIndex<Session, SharedGroup>(topicFilter);
      this.#tree.set(topicFilter, index);
      this.#matches.clear();
    }
    return index;
  }
}
