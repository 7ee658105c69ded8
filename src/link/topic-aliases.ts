// MQTT 5 topic aliases of one connection, both ways (spec 3.3.2.3.4). Each
// link owns one of each, so no mapping outlives its network connection
// ([MQTT-3.3.2-7]).
// - Inbound: the client maps aliases 1..topic_alias_max (what CONNACK
//   advertised) to topics; alias 0 or above the maximum is answered with
//   DISCONNECT 0x94 ([MQTT-3.3.2-8], [MQTT-3.3.2-9]), an alias used before it
//   was set with a 0x82 protocol error.
// - Outbound: when the client's CONNECT allowed aliases (Topic Alias
//   Maximum > 0), the broker gives each topic it sends an alias, reusing the
//   least recently used one when all are taken, never above the client's
//   maximum ([MQTT-3.1.2-26]) nor the listener's topic_alias_max (the
//   bound connect.ts passes in: each alias holds a topic in memory).
//
// Who calls it: the PUBLISH handler (inbound) and link.ts (outbound).
//
// Invariants: outbound aliases are in 1..max and map to one topic each.

import assert from "node:assert/strict";
import { ProtocolError } from "../protocol/index.ts";

export class InboundAliases {
  readonly #max: number;
  /** Made on the first alias set: most clients never use one. */
  #topics: Map<number, string> | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * The topic a PUBLISH is for. `topic` is the packet's topic name (empty when
   * the alias stands for it); a non-empty one is recorded for the alias, once
   * `valid` has accepted it.
   */
  resolve(topic: string, alias: number | undefined, valid: (topic: string) => void): string {
    if (alias === undefined) {
      // Spec 3.3.2.3.4: a zero-length topic name without a topic alias is a protocol error.
      if (topic.length === 0) throw new ProtocolError("ProtocolError", "empty topic, no alias");
      valid(topic);
      return topic;
    }
    // [MQTT-3.3.2-8] alias 0; [MQTT-3.3.2-9] above the Topic Alias Maximum we advertised.
    if (alias === 0 || alias > this.#max) {
      throw new ProtocolError("TopicAliasInvalid", `topic alias ${alias} outside 1..${this.#max}`);
    }
    if (topic.length > 0) {
      valid(topic);
      this.#topics ??= new Map();
      this.#topics.set(alias, topic);
      return topic;
    }
    const known = this.#topics?.get(alias);
    if (known === undefined) throw new ProtocolError("ProtocolError", `topic alias ${alias} unset`);
    return known;
  }
}

/** For a listener that accepts no aliases: it never records one, so every link shares it. */
export const NO_INBOUND_ALIASES = new InboundAliases(0);

/** What to send for one topic: the alias, and whether the topic name must go with it. */
export interface AliasChoice {
  alias: number;
  /** False: the alias is already mapped to this topic and the topic name is left out. */
  withTopic: boolean;
}

export class OutboundAliases {
  readonly #max: number;
  /** topic -> alias, least recently used first (a Map keeps insertion order). */
  readonly #byTopic = new Map<string, number>();
  readonly #byAlias = new Map<number, string>();

  constructor(max: number) {
    this.#max = max;
  }

  get enabled(): boolean {
    return this.#max > 0;
  }

  /** The alias to use for `topic`; nothing changes until `commit` (the packet may be dropped). */
  choose(topic: string): AliasChoice {
    assert.ok(this.enabled, "the client allows no topic aliases");
    const known = this.#byTopic.get(topic);
    if (known !== undefined) return { alias: known, withTopic: false };
    if (this.#byTopic.size < this.#max) return { alias: this.#byTopic.size + 1, withTopic: true };
    const [, oldest] = this.#byTopic.entries().next().value as [string, number];
    return { alias: oldest, withTopic: true };
  }

  /** Records that `choice` went out for `topic`. */
  commit(topic: string, choice: AliasChoice): void {
    const previous = this.#byAlias.get(choice.alias);
    if (previous !== undefined) this.#byTopic.delete(previous);
    // Deleted and set again: now the most recently used.
    this.#byTopic.delete(topic);
    this.#byTopic.set(topic, choice.alias);
    this.#byAlias.set(choice.alias, topic);
    assert.ok(choice.alias >= 1 && choice.alias <= this.#max && this.#byTopic.size <= this.#max);
  }
}
