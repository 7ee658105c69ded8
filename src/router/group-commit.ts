// Group commit for the router: every publish appended in one turn of the
// event loop waits for one `log.commit()`, started from setImmediate so that
// the appends of every socket read in that turn share it (DESIGN.md, step 3).
// When a commit resolves, its publishers may be acknowledged and the filter
// indices that received offsets are handed back so their subscribers can be fed.
// Waiters are objects called back in order (CommitWaiter), not promises, so
// that a publish costs no promise; `wait()` wraps one for the rare callers
// that want a promise. With sync "os" the log usually commits on the spot
// (`commitNow`, one synchronous write), and the waiters are told in the same
// turn, without a thread-pool round trip.
//
// Who calls it: the router only.

import type { RouterLog } from "./delivery.ts";
import type { FilterIndex } from "./filter-index.ts";
import type { Session } from "./session.ts";
import type { SharedGroup } from "./shared-group.ts";

type Index = FilterIndex<Session, SharedGroup>;

/** Told once whether the commit holding an append succeeded. */
export interface CommitWaiter {
  committed(): void;
  failed(error: unknown): void;
}

export class GroupCommit {
  readonly #log: RouterLog;
  readonly #onCommitted: (dirty: Set<Index>) => void;
  readonly #onFailed: (error: unknown) => void;
  #waiters: CommitWaiter[] = [];
  #dirty = new Set<Index>();
  #scheduled = false;
  #running: Promise<void> = Promise.resolve();

  constructor(
    log: RouterLog,
    onCommitted: (dirty: Set<Index>) => void,
    onFailed: (error: unknown) => void,
  ) {
    this.#log = log;
    this.#onCommitted = onCommitted;
    this.#onFailed = onFailed;
  }

  /** A filter index received an offset that becomes visible with the next commit. */
  markDirty(index: Index): void {
    this.#dirty.add(index);
  }

  /** Calls `waiter` back once everything appended before this call is committed. */
  add(waiter: CommitWaiter): void {
    this.#waiters.push(waiter);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  /** Resolves when everything appended before this call is committed. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.add({ committed: resolve, failed: reject }));
  }

  /** Graceful stop: waits for the scheduled and running commits; never rejects. */
  async drain(): Promise<void> {
    if (this.#scheduled || this.#waiters.length > 0) await this.wait().catch(() => undefined);
    await this.#running;
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const waiters = this.#waiters;
    const dirty = this.#dirty;
    this.#waiters = [];
    this.#dirty = new Set();
    if (this.#log.commitNow()) {
      this.#committed(waiters, dirty);
      return;
    }
    this.#running = this.#log.commit().then(
      () => this.#committed(waiters, dirty),
      (error: unknown) => {
        this.#onFailed(error);
        for (const waiter of waiters) waiter.failed(error);
      },
    );
  };

  #committed(waiters: CommitWaiter[], dirty: Set<Index>): void {
    for (const waiter of waiters) waiter.committed();
    this.#onCommitted(dirty);
  }
}
