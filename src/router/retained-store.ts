// Retained messages by topic ([MQTT-3.3.1-5]): the last committed retained
// message per topic, sent to new subscriptions whose filter matches.
//
// Who calls it: the router, after a retained publish is committed (store)
// and on SUBSCRIBE (match). Written through to the storage index when there
// is one: a retained message is in the index before its publish is
// acknowledged, so it survives a kill; loaded back at start.

import type { IndexDb } from "../../storage/index.ts";
import { topicMatches } from "../protocol/index.ts";
import type { Message } from "./message.ts";
import { loadRetained, persistRetained } from "./persistence.ts";

export class RetainedStore {
  readonly #byTopic = new Map<string, Message>();
  readonly #index: IndexDb | undefined;
  /** Index writes, in publish order. */
  #writes: Promise<void> = Promise.resolve();

  constructor(index: IndexDb | undefined) {
    this.#index = index;
  }

  /** Loads what the index holds (start). */
  async load(): Promise<void> {
    if (this.#index === undefined) return;
    for (const message of await loadRetained(this.#index)) this.apply(message);
  }

  /**
   * Stores a committed retained message (or its clearing): applied at once,
   * so that a subscription made from now on gets it (its subscribers may
   * already have it), and written to the index in call order. The returned
   * promise settles with that write; it rejects if the write failed, and the
   * publisher must not be acknowledged then.
   */
  store(message: Message): Promise<void> {
    this.apply(message);
    const index = this.#index;
    if (index === undefined) return Promise.resolve();
    const write = this.#writes.then(() => persistRetained(index, message));
    // The chain goes on after a failure; the failure reaches the publisher through `write`.
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /** Waits for the writes in progress (graceful stop). */
  async drain(): Promise<void> {
    await this.#writes;
  }

  get size(): number {
    return this.#byTopic.size;
  }

  /**
   * Stores a retained message, or clears the topic when the payload is empty
   * ([MQTT-3.3.1-10], [MQTT-3.3.1-11]: a zero-byte retained message is never stored).
   */
  apply(message: Message): void {
    if (message.payload.length === 0) this.#byTopic.delete(message.topic);
    else this.#byTopic.set(message.topic, message);
  }

  /** Retained messages whose topic matches `filter`, skipping expired ones. */
  match(filter: string, nowMs: number): Message[] {
    const out: Message[] = [];
    for (const [topic, message] of this.#byTopic) {
      if (message.expiresAtMs !== null && message.expiresAtMs <= nowMs) {
        this.#byTopic.delete(topic);
        continue;
      }
      if (topicMatches(filter, topic)) out.push(message);
    }
    return out;
  }
}
