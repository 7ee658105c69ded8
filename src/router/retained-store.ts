// Retained messages by topic ([MQTT-3.3.1-5]): the last committed retained
// message per topic, sent to new subscriptions whose filter matches.
//
// Who calls it: the router, after a retained publish is committed (set or
// clear) and on SUBSCRIBE (match). Kept in memory; persisting it in the
// storage index is the next step (see the router's header).

import { topicMatches } from "../protocol/index.ts";
import type { Message } from "./message.ts";

export class RetainedStore {
  readonly #byTopic = new Map<string, Message>();

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
