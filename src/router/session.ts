// One client's session state: its subscriptions (each a cursor start into a
// shared filter index), its cursor in the log, its outgoing inflight window
// with the QoS 2 outbound state, the packet ids it allocated, the inbound QoS 2
// packet ids awaiting PUBREL, and the link it is attached to (if any).
//
// Who calls it: the router only. A session never touches a socket; it talks
// to its link through the SessionLink interface the link implements.
//
// Invariants:
// - cursor only grows;
// - an entry is added to inflight only while it holds fewer than `maxInflight`
//   (a restored session may start with more, if the limit was lowered), keyed
//   by distinct packet ids in 1..65535;
// - an offset is delivered at most once per connection (cursor moves past it when sent).

import assert from "node:assert/strict";
import type { Deadline } from "./deadline.ts";
import type { FilterIndex } from "./filter-index.ts";
import type { OutgoingPublish, Qos } from "./message.ts";
import type { SharedGroup } from "./shared-group.ts";
import type { Will } from "./will-timer.ts";

/** MQTT 5: a session expiry interval of 0xFFFFFFFF means the session never expires. */
export const NEVER_EXPIRES_SEC = 0xffff_ffff;

/** [MQTT-2.3.1-1] Packet identifiers are non-zero 16-bit integers. */
export const MAX_PACKET_ID = 65_535;

/** What the router needs from a link; the link implements it. */
export interface SessionLink {
  /** Sends one PUBLISH to the client. */
  sendPublish(publish: OutgoingPublish): void;
  /** Sends a PUBREL for an outgoing QoS 2 message the client has PUBREC'd. */
  sendPubrel(packetId: number): void;
  /** Another connection took this session over: close this one ([MQTT-3.1.4-2]). */
  takeOver(): void;
  /** False while the socket's write buffer is full; the link calls router.pump on 'drain'. */
  readonly writable: boolean;
}

/** What a SUBSCRIBE asks for one filter (MQTT 5 subscription options, spec 3.8.3.1). */
export interface SubscriptionOptions {
  qos: Qos;
  /** [MQTT-3.8.3-3] Messages this client published are not sent back to it. */
  noLocal: boolean;
  /** [MQTT-3.3.1-12] [MQTT-3.3.1-13] Forwarded messages keep the RETAIN flag they were published with. */
  retainAsPublished: boolean;
  /** 0: retained messages at every SUBSCRIBE; 1: only for a new subscription; 2: never. */
  retainHandling: 0 | 1 | 2;
  /** The SUBSCRIBE's Subscription Identifier (1..268,435,455), if it had one. */
  subscriptionId: number | undefined;
}

export interface Subscription extends SubscriptionOptions {
  /** The filter as subscribed: for a shared subscription, `$share/<group>/<filter>`. */
  filter: string;
  /** Offsets below this were published before the subscription and are not delivered. */
  sinceOffset: number;
  /** The index of the topic filter (without any `$share/<group>/` prefix). */
  index: FilterIndex<Session, SharedGroup>;
  /** The shared group this subscription is a member of; its messages come from the group. */
  group: SharedGroup | undefined;
}

export interface InflightEntry {
  publish: OutgoingPublish;
  /**
   * The message's log offset; the index stores only this for it (a retained
   * message sent on SUBSCRIBE has none: its body is stored instead).
   */
  offset: number | null;
  /** Send order within the session, kept in the index so a restart resends in order. */
  seq: number;
  /** "publish": awaiting PUBACK (QoS 1) or PUBREC (QoS 2); "pubrel": awaiting PUBCOMP. */
  phase: "publish" | "pubrel";
  /** The message's expiry time, to count its interval down again on a resend. */
  expiresAtMs: number | null;
  /** A QoS 1 message handed out by a shared group: it goes back to the group if this client goes away. */
  group?: SharedGroup;
}

/** A retained message owed because of a SUBSCRIBE, with its expiry time. */
export interface RetainedDelivery {
  publish: OutgoingPublish;
  expiresAtMs: number | null;
}

export class Session {
  readonly clientId: string;
  /** Whether the session outlives its connection (3.1.1 clean session 0; v5 expiry > 0). */
  persistent: boolean;
  /** MQTT 5 session expiry interval in seconds once offline; 0 for 3.1.1 persistent = never. */
  expiryIntervalSec: number;
  // The five collections below are made on first use (the getters): an idle
  // connection's session would otherwise carry five empty ones (about 700 bytes).
  #subscriptions: Map<string, Subscription> | undefined;
  #groups: Set<SharedGroup> | undefined;
  #inflight: Map<number, InflightEntry> | undefined;
  #inboundQos2: Map<number, Promise<void>> | undefined;
  #retainedQueue: RetainedDelivery[] | undefined;
  /** The next log offset this session considers for delivery. */
  cursor: number;
  link: SessionLink | undefined;
  /** When the session went offline (ms since the epoch); undefined while connected. */
  disconnectedAtMs: number | undefined;
  /** The will of the current (or last) connection; published per will-timer.ts. */
  will: Will | undefined;
  /** Set while a delayed will waits for its time (spec 3.1.3.2.2). */
  willTimer: Deadline | undefined;
  /** Set while an offline session waits for its expiry. */
  expiryTimer: Deadline | undefined;
  /** True while an asynchronous log read for this session is in progress. */
  reading = false;
  /** Something is stored in the index for this session (it must be forgotten when it ends). */
  stored = false;
  /** Publishes waiting for their index write before they go out. */
  pendingSends = 0;
  /** The next InflightEntry.seq. */
  nextSeq = 0;
  /** The listener's max_inflight_count, set by each CONNECT. */
  maxInflight = 1;
  #lastPacketId = 0;

  constructor(clientId: string, cursor: number, persistent: boolean, expiryIntervalSec: number) {
    this.clientId = clientId;
    this.cursor = cursor;
    this.persistent = persistent;
    this.expiryIntervalSec = expiryIntervalSec;
  }

  /** The session's subscriptions by filter. */
  get subscriptions(): Map<string, Subscription> {
    this.#subscriptions ??= new Map();
    return this.#subscriptions;
  }

  /** The shared groups this session is a member of (its `$share/...` subscriptions). */
  get groups(): Set<SharedGroup> {
    this.#groups ??= new Set();
    return this.#groups;
  }

  /** Whether the session is a member of any shared group (without making the set). */
  get inGroups(): boolean {
    return this.#groups !== undefined && this.#groups.size > 0;
  }

  /** Retained messages owed because of a SUBSCRIBE, sent before log messages. */
  get retainedQueue(): RetainedDelivery[] {
    this.#retainedQueue ??= [];
    return this.#retainedQueue;
  }

  /** The length of `retainedQueue`, without making it. */
  get retainedQueuedCount(): number {
    return this.#retainedQueue?.length ?? 0;
  }

  /** The outgoing QoS 1/2 messages not yet acknowledged, by packet id. */
  get inflight(): Map<number, InflightEntry> {
    this.#inflight ??= new Map();
    return this.#inflight;
  }

  /** The size of `inflight`, without making the map. */
  get inflightCount(): number {
    return this.#inflight?.size ?? 0;
  }

  /**
   * Inbound QoS 2 packet ids whose PUBREL has not come yet, each with the
   * commit of its PUBLISH: a resent PUBLISH with the same id is not appended
   * again, it waits for the same commit (spec 4.3.3, method A).
   */
  get inboundQos2(): Map<number, Promise<void>> {
    this.#inboundQos2 ??= new Map();
    return this.#inboundQos2;
  }

  /**
   * A packet id not used by any inflight message [MQTT-2.3.1-2]. The caller has
   * checked that the inflight window has room, so the search ends.
   */
  allocatePacketId(): number {
    assert.ok(this.inflightCount < MAX_PACKET_ID, "no free packet id");
    for (;;) {
      this.#lastPacketId = this.#lastPacketId >= MAX_PACKET_ID ? 1 : this.#lastPacketId + 1;
      if (this.#inflight?.has(this.#lastPacketId) !== true) return this.#lastPacketId;
    }
  }

  /**
   * The next offset below `end` that one of this session's non-shared
   * filters matches, with every subscription that matches it: the message
   * goes out once, at the highest QoS granted among them ([MQTT-3.3.4-2]),
   * with all their subscription identifiers ([MQTT-3.3.4-4]). Shared
   * subscriptions are fed by their group (shared-delivery.ts), not here.
   */
  nextDelivery(end: number): { offset: number; subscriptions: Subscription[] } | undefined {
    let best: number | undefined;
    let matching: Subscription[] = [];
    if (this.#subscriptions === undefined) return undefined;
    for (const sub of this.#subscriptions.values()) {
      if (sub.group !== undefined) continue;
      const offset = sub.index.nextAtOrAfter(Math.max(this.cursor, sub.sinceOffset));
      if (offset === undefined || offset >= end) continue;
      if (best === undefined || offset < best) {
        best = offset;
        matching = [sub];
      } else if (offset === best) {
        matching.push(sub);
      }
    }
    return best === undefined ? undefined : { offset: best, subscriptions: matching };
  }

  /**
   * How many messages below `end` this session is owed by its own (not
   * shared) subscriptions, each counted once however many filters match it.
   * Walks those offsets, so the work is bounded by the count.
   */
  owedBefore(end: number): number {
    let count = 0;
    let from = this.cursor;
    for (;;) {
      let next: number | undefined;
      for (const sub of this.subscriptions.values()) {
        if (sub.group !== undefined) continue;
        const offset = sub.index.nextAtOrAfter(Math.max(from, sub.sinceOffset));
        if (offset !== undefined && offset < end && (next === undefined || offset < next)) {
          next = offset;
        }
      }
      if (next === undefined) return count;
      count++;
      from = next + 1;
    }
  }
}
