// The messages delivered most recently, decoded once and shared by every
// session that delivers them: a ring keyed by log offset. When a commit makes
// a message visible to a hundred subscribers, its record is decoded once
// (topic, body, properties) and its PUBLISH encoded once per variant (the
// PublishTemplates each entry carries, filled by the links), not a hundred times.
//
// Who calls it: delivery.ts, through the router, which owns one. It holds
// views into the log's memory (payloads are subarrays of segment chunks), no
// copies, and at most `capacity` entries; encoded templates count against a
// byte budget shared by all entries.
//
// Invariants:
// - an entry is found only under the offset of the record it was decoded from;
// - an entry's templates are released when the entry leaves the ring.

import type { LogRecord } from "../../storage/index.ts";
import { PublishTemplates, TemplateBudget } from "../protocol/index.ts";
import { decodeBody, type ForwardedProperties, publisherOf, type Qos } from "./message.ts";

/** A committed message, decoded, ready to be handed to links. */
export interface DecodedMessage {
  readonly offset: number;
  readonly topic: string;
  readonly qos: Qos;
  readonly retain: boolean;
  readonly expiresAtMs: number | null;
  readonly payload: Buffer;
  readonly properties: ForwardedProperties | undefined;
  /** The client that published it (No Local), if the body names one. */
  readonly publisherId: string | undefined;
  /** Shared by every delivery of a message from the ring; absent for a one-off decode. */
  readonly templates: PublishTemplates | undefined;
}

/**
 * A record decoded for delivery; with `budget`, with templates shared by its
 * subscribers, else for one delivery (a record read from disk).
 */
export function decodeMessage(record: LogRecord, budget?: TemplateBudget): DecodedMessage {
  const { payload, properties } = decodeBody(record.body);
  return {
    offset: record.offset,
    topic: record.topic,
    qos: record.qos,
    retain: record.retain,
    expiresAtMs: record.expiresAtMs,
    payload,
    properties,
    publisherId: publisherOf(record.body),
    templates:
      budget === undefined
        ? undefined
        : new PublishTemplates({ topic: record.topic, payload, properties }, budget),
  };
}

/**
 * Messages with payloads up to this size are kept in the ring when appended
 * (`seed`), so that their delivery skips reading the record back. The ring
 * keeps the payload's copy in the message body (never the original, a view
 * into a socket read, which the ring would otherwise keep alive).
 */
export const SEED_MAX_PAYLOAD_BYTES = 1024;

/** Entries kept: more than a commit batch usually holds, so a fan-out round finds them all. */
export const RECENT_MESSAGES = 2048;
/** Encoded templates kept over all entries. */
export const TEMPLATE_BUDGET_BYTES = 8 * 1024 * 1024;

export class RecentMessages {
  readonly #slots: Array<DecodedMessage | undefined>;
  readonly #budget: TemplateBudget;

  constructor(capacity = RECENT_MESSAGES, budgetBytes = TEMPLATE_BUDGET_BYTES) {
    this.#slots = new Array<DecodedMessage | undefined>(capacity);
    this.#budget = new TemplateBudget(budgetBytes);
  }

  /** The decoded message at `offset`, if it was decoded recently. */
  get(offset: number): DecodedMessage | undefined {
    const entry = this.#slots[offset % this.#slots.length];
    return entry !== undefined && entry.offset === offset ? entry : undefined;
  }

  /**
   * A message just appended at `offset`, kept as delivery would decode it
   * from its record, when that is cheap and certain to be the same: a small
   * payload and no properties (those go through their JSON in the body).
   * `payload` is the message's payload as its body holds it (a copy).
   */
  seed(
    offset: number,
    message: {
      topic: string;
      qos: Qos;
      retain: boolean;
      expiresAtMs: number | null;
      payload: Buffer;
      properties?: ForwardedProperties | undefined;
    },
    publisherId: string | undefined,
    payload: Buffer,
  ): void {
    if (message.properties !== undefined || payload.length > SEED_MAX_PAYLOAD_BYTES) return;
    this.#keep({
      offset,
      topic: message.topic,
      qos: message.qos,
      retain: message.retain,
      expiresAtMs: message.expiresAtMs,
      payload,
      properties: undefined,
      publisherId,
      templates: new PublishTemplates(
        { topic: message.topic, payload, properties: undefined },
        this.#budget,
      ),
    });
  }

  /** Decodes `record` and keeps it, replacing the entry that shared its slot. */
  add(record: LogRecord): DecodedMessage {
    const entry = decodeMessage(record, this.#budget);
    this.#keep(entry);
    return entry;
  }

  #keep(entry: DecodedMessage): void {
    const slot = entry.offset % this.#slots.length;
    this.#slots[slot]?.templates?.release();
    this.#slots[slot] = entry;
  }
}
