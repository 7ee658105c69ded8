// Building the PUBLISH a subscriber receives from a stored message: the QoS
// granted, the RETAIN flag its subscriptions ask for, the subscription
// identifiers of the subscriptions it is sent for, and the message expiry
// interval counted down to what is left.
//
// Who calls it: delivery.ts and shared-delivery.ts (from a log record),
// router.ts (retained messages on SUBSCRIBE, resends) and restore.ts
// (inflight messages read back after a restart). Pure functions.

import type { ForwardedProperties, OutgoingProperties, OutgoingPublish, Qos } from "./message.ts";

/** A message is expired at `nowMs` when its expiry time has come ([MQTT-3.3.2-5]). */
export function isExpired(expiresAtMs: number | null, nowMs: number): boolean {
  return expiresAtMs !== null && expiresAtMs <= nowMs;
}

/**
 * [MQTT-3.3.2-6] The Message Expiry Interval a subscriber receives is what
 * was published minus the time the message waited here: whole seconds left,
 * rounded up so that a message not yet expired never says 0.
 */
export function remainingExpirySec(expiresAtMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((expiresAtMs - nowMs) / 1000));
}

export interface OutgoingFields {
  topic: string;
  qos: Qos;
  retain: boolean;
  payload: Buffer;
  properties: ForwardedProperties | undefined;
  expiresAtMs: number | null;
  /** Identifiers of the subscriptions the message is sent for (none: absent). */
  subscriptionIds: readonly number[];
}

/** The properties of an outgoing PUBLISH, or undefined when it has none. */
export function outgoingProperties(
  fields: Pick<OutgoingFields, "properties" | "expiresAtMs" | "subscriptionIds">,
  nowMs: number,
): OutgoingProperties | undefined {
  const stored = fields.properties;
  if (fields.subscriptionIds.length === 0 && fields.expiresAtMs === null) {
    // Nothing per subscriber: the stored object itself, so that every delivery of the
    // message shares one encoding (packet-templates.ts compares properties by identity).
    if (stored === undefined) return undefined;
    const own = stored as OutgoingProperties;
    if (own.subscriptionIdentifier === undefined && own.messageExpiryInterval === undefined) {
      return Object.keys(stored).length === 0 ? undefined : stored;
    }
  }
  const out: OutgoingProperties = { ...stored };
  // Stored properties never carry these two; they are computed per delivery.
  delete out.subscriptionIdentifier;
  delete out.messageExpiryInterval;
  const ids = fields.subscriptionIds;
  if (ids.length > 0) out.subscriptionIdentifier = ids.length === 1 ? (ids[0] as number) : [...ids];
  if (fields.expiresAtMs !== null) {
    out.messageExpiryInterval = remainingExpirySec(fields.expiresAtMs, nowMs);
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

export function outgoingPublish(fields: OutgoingFields, nowMs: number): OutgoingPublish {
  const properties = outgoingProperties(fields, nowMs);
  // Built field by field (every delivery makes one): a conditional spread costs an object more.
  const publish: OutgoingPublish = {
    topic: fields.topic,
    qos: fields.qos,
    retain: fields.retain,
    dup: false,
    payload: fields.payload,
  };
  if (properties !== undefined) publish.properties = properties;
  return publish;
}

/** The subscription identifiers an outgoing PUBLISH carries, as a list. */
export function subscriptionIdsOf(publish: OutgoingPublish): number[] {
  const ids = publish.properties?.subscriptionIdentifier;
  if (ids === undefined) return [];
  return Array.isArray(ids) ? ids : [ids];
}

/**
 * A resend (DUP) of an unacknowledged message: the expiry interval is
 * counted down again; delivery has started, so it is sent even if the
 * interval has run out (spec 3.3.2.3.3 deletes only what has not started).
 */
export function resendOf(
  publish: OutgoingPublish,
  expiresAtMs: number | null,
  nowMs: number,
): OutgoingPublish {
  const { properties, ...rest } = publish;
  const refreshed = outgoingProperties(
    { properties, expiresAtMs, subscriptionIds: subscriptionIdsOf(publish) },
    nowMs,
  );
  return { ...rest, dup: true, ...(refreshed === undefined ? {} : { properties: refreshed }) };
}
