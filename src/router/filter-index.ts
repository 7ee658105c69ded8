// One subscribed filter's index: the ascending log offsets of the messages
// whose topic matches the filter, shared by every session subscribed to it.
// Sessions keep cursors into the log and look their next offset up here; no
// session holds a copy of a message.
//
// Who calls it: the router (push at append time, trim when the log drops
// segments), sessions (nextAtOrAfter while delivering) and shared groups,
// which read the same index from their own cursor (shared-group.ts).
//
// Invariants:
// - offsets are strictly ascending (the router pushes in append order).

import assert from "node:assert/strict";

export class FilterIndex<S, G = never> {
  readonly filter: string;
  /** Sessions subscribed to this filter (non-shared subscriptions). */
  readonly subscribers = new Set<S>();
  /** Shared groups (`$share/<group>/<filter>`) reading this filter. */
  readonly groups = new Set<G>();
  #offsets: number[] = [];

  constructor(filter: string) {
    this.filter = filter;
  }

  /** No session and no group reads this index any more. */
  get unused(): boolean {
    return this.subscribers.size === 0 && this.groups.size === 0;
  }

  get length(): number {
    return this.#offsets.length;
  }

  push(offset: number): void {
    const last = this.#offsets[this.#offsets.length - 1];
    assert.ok(last === undefined || offset > last, "filter index offsets must ascend");
    this.#offsets.push(offset);
  }

  /** The smallest indexed offset >= `offset`, or undefined. */
  nextAtOrAfter(offset: number): number | undefined {
    return this.#offsets[this.#lowerBound(offset)];
  }

  /** How many indexed offsets lie in [from, to). */
  countBetween(from: number, to: number): number {
    return to <= from ? 0 : this.#lowerBound(to) - this.#lowerBound(from);
  }

  /** The position of the first offset >= `offset`. Binary search. */
  #lowerBound(offset: number): number {
    const offsets = this.#offsets;
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((offsets[mid] as number) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Forgets offsets below `offset` (the log no longer holds them). */
  trimBefore(offset: number): void {
    let n = 0;
    while (n < this.#offsets.length && (this.#offsets[n] as number) < offset) n++;
    if (n > 0) this.#offsets.splice(0, n);
  }
}
