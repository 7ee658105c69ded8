// The connection limit shared by every listener (`router.max_connections`):
// a counter of accepted CONNECTs. A link takes a slot when its CONNECT is
// accepted and gives it back when it closes.
// Who calls it: broker.ts creates one; links take and release slots.

import type { ConnectionSlots } from "../link/index.ts";

export class ConnectionCounter implements ConnectionSlots {
  readonly max: number;
  #used = 0;

  constructor(max: number) {
    this.max = max;
  }

  get used(): number {
    return this.#used;
  }

  tryAcquire(): boolean {
    if (this.#used >= this.max) return false;
    this.#used++;
    return true;
  }

  release(): void {
    if (this.#used > 0) this.#used--;
  }
}
