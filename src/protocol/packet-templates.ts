// Encode once, send many: the encoded bytes of one PUBLISH message, shared by
// every delivery of it, with the few bytes that differ per delivery patched
// when the bytes are copied out (the packet identifier and the DUP flag);
// and the acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP without a reason
// code), which are templates with only a packet identifier to patch, and the
// CONNACK that accepts an MQTT 3.1 / 3.1.1 client, which has nothing to patch.
//
// A fan-out of one message to N subscribers otherwise encodes it N times;
// with this, it is encoded once per (protocol version, QoS, RETAIN) variant.
//
// Who uses it: the router creates one PublishTemplates per message it
// delivers (keyed by log offset, router/recent-messages.ts) and hands it along
// with every OutgoingPublish of that message; the link asks it for the
// template matching the delivery and copies it into its output (outbox.ts).
//
// A template is valid only for a delivery whose topic, payload and
// properties are the very objects the cache was made from (checked by
// identity in `lookup`). A delivery that carries anything per subscriber
// (v5 subscription identifiers, a topic alias, a message expiry counted down)
// has a different topic or properties object and so bypasses the cache, or
// is handed over without a PublishTemplates at all.
//
// Invariants:
// - a template's bytes are those of the packet encoded with packet id 1 (QoS
//   1/2) and DUP 0; `packetIdAt` is the position of the 2-byte packet id, -1
//   at QoS 0;
// - the bytes held by all caches sharing one TemplateBudget stay below its limit.

import assert from "node:assert/strict";
import { encodePacket, type ProtocolVersion } from "./codec.ts";
import { ConnackReturnCodeV3 } from "./reason-codes.ts";

/** Encoded bytes of one packet and where its packet id goes. */
export interface PacketTemplate {
  readonly bytes: Buffer;
  /** Position of the packet identifier in `bytes`; -1 at QoS 0. */
  readonly packetIdAt: number;
}

/** Bytes of templates held by every cache that shares it, with a limit. */
export class TemplateBudget {
  readonly limitBytes: number;
  usedBytes = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }
}

/** DUP is bit 3 of a PUBLISH's first byte (spec 3.3.1.1). */
export const DUP_FLAG = 0x08;

/** The variants a message can be sent as: version 3..5 x QoS 0..2 x RETAIN 0/1. */
const VARIANTS = 3 * 3 * 2;

function variantOf(version: number, qos: number, retain: boolean): number {
  return (version - 3) * 6 + qos * 2 + (retain ? 1 : 0);
}

/** The length of the fixed header (first byte and Remaining Length) of an encoded packet. */
function fixedHeaderBytes(bytes: Buffer): number {
  let i = 1;
  while (((bytes[i] as number) & 0x80) !== 0) i++;
  return i + 1;
}

/** What a delivery must match, by identity, for a template to apply. */
export interface TemplateSource {
  topic: string;
  payload: Buffer;
  properties?: object | undefined;
}

export class PublishTemplates {
  readonly #topic: string;
  readonly #payload: Buffer;
  readonly #properties: object | undefined;
  readonly #budget: TemplateBudget;
  /**
   * The first variant kept, and which it is: most messages go out as one
   * variant only, which then costs no array of all of them.
   */
  #first: PacketTemplate | undefined;
  #firstVariant = -1;
  /** The other variants, made when a second one is kept. */
  #variants: Array<PacketTemplate | undefined> | undefined;
  #bytes = 0;

  constructor(source: TemplateSource, budget: TemplateBudget) {
    this.#topic = source.topic;
    this.#payload = source.payload;
    this.#properties = source.properties;
    this.#budget = budget;
  }

  /**
   * The template for `delivery` sent as `version`: the kept one; null when
   * none is kept yet (encode it, then `keep`); undefined when the delivery
   * is not the message this cache was made for.
   */
  find(
    delivery: TemplateSource & { qos: number; retain: boolean },
    version: number,
  ): PacketTemplate | null | undefined {
    if (
      delivery.topic !== this.#topic ||
      delivery.payload !== this.#payload ||
      delivery.properties !== this.#properties
    ) {
      return undefined;
    }
    const variant = variantOf(version, delivery.qos, delivery.retain);
    if (variant === this.#firstVariant) return this.#first as PacketTemplate;
    return this.#variants?.[variant] ?? null;
  }

  /**
   * Makes the template of `delivery` as `version` from its encoded `bytes`
   * (packet id 1 when QoS > 0, DUP 0) and keeps it, if the budget allows.
   */
  keep(delivery: { qos: number; retain: boolean }, version: number, bytes: Buffer): PacketTemplate {
    // The packet id follows the topic: 2 bytes of length, then its bytes (spec 3.3.2).
    const headerBytes = fixedHeaderBytes(bytes);
    const packetIdAt = delivery.qos === 0 ? -1 : headerBytes + 2 + bytes.readUInt16BE(headerBytes);
    assert.ok(packetIdAt < 0 || bytes.readUInt16BE(packetIdAt) === 1, "template packet id");
    const template: PacketTemplate = { bytes, packetIdAt };
    // Over the budget, the template serves this delivery only (the next one encodes again).
    if (this.#budget.usedBytes + bytes.length <= this.#budget.limitBytes) {
      const variant = variantOf(version, delivery.qos, delivery.retain);
      if (this.#firstVariant < 0 || variant === this.#firstVariant) {
        this.#firstVariant = variant;
        this.#first = template;
      } else {
        this.#variants ??= new Array<PacketTemplate | undefined>(VARIANTS);
        this.#variants[variant] = template;
      }
      this.#bytes += bytes.length;
      this.#budget.usedBytes += bytes.length;
    }
    return template;
  }

  /** `find`, encoding with `encode` and keeping the result when none is kept yet. */
  lookup(
    delivery: TemplateSource & { qos: number; retain: boolean },
    version: number,
    encode: () => Buffer,
  ): PacketTemplate | undefined {
    const found = this.find(delivery, version);
    return found === null ? this.keep(delivery, version, encode()) : found;
  }

  /** Gives the bytes held back to the budget; the cache is empty afterwards. */
  release(): void {
    this.#budget.usedBytes -= this.#bytes;
    this.#bytes = 0;
    this.#first = undefined;
    this.#firstVariant = -1;
    this.#variants = undefined;
  }
}

export type AckCommand = "puback" | "pubrec" | "pubrel" | "pubcomp";

const ACK_COMMANDS: readonly AckCommand[] = ["puback", "pubrec", "pubrel", "pubcomp"];

function ackTemplatesFor(version: ProtocolVersion): Map<AckCommand, PacketTemplate> {
  return new Map(
    ACK_COMMANDS.map((cmd) => {
      // What encodePacket writes for this ack without a reason code (MQTT 5: reason
      // 0x00 and an empty property block), with packet id 1 to be patched.
      const bytes = encodePacket({ cmd, packetId: 1 }, version);
      assert.equal(bytes.readUInt16BE(2), 1, "ack packet id position");
      return [cmd, { bytes, packetIdAt: 2 }];
    }),
  );
}

const ACK_TEMPLATES = new Map<ProtocolVersion, Map<AckCommand, PacketTemplate>>([
  [3, ackTemplatesFor(3)],
  [4, ackTemplatesFor(4)],
  [5, ackTemplatesFor(5)],
]);

/** The bytes of `cmd` without a reason code or properties, its packet id to be patched. */
export function ackTemplate(cmd: AckCommand, version: ProtocolVersion): PacketTemplate {
  return ACK_TEMPLATES.get(version)?.get(cmd) as PacketTemplate;
}

/** What encodePacket writes for a 3.1 / 3.1.1 CONNACK "accepted", without and with Session Present. */
function acceptedConnacksFor(version: 3 | 4): readonly [PacketTemplate, PacketTemplate] {
  const encode = (sessionPresent: boolean): PacketTemplate => ({
    bytes: encodePacket(
      { cmd: "connack", sessionPresent, returnCode: ConnackReturnCodeV3.Accepted },
      version,
    ),
    packetIdAt: -1,
  });
  return [encode(false), encode(true)];
}

const ACCEPTED_CONNACKS = { 3: acceptedConnacksFor(3), 4: acceptedConnacksFor(4) } as const;

/**
 * The CONNACK that accepts an MQTT 3.1 / 3.1.1 client (every accepted
 * connection sends one: copied, not encoded); undefined for MQTT 5, whose
 * CONNACK carries properties.
 */
export function acceptedConnackTemplate(
  version: ProtocolVersion,
  sessionPresent: boolean,
): PacketTemplate | undefined {
  if (version === 5) return undefined;
  return ACCEPTED_CONNACKS[version][sessionPresent ? 1 : 0];
}
