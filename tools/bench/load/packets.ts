// Pre-encoded MQTT 3.1.1 packets for the load generator.
//
// Owns: encoding every packet the generator sends, once, with mqtt-packet, and patching the few
// bytes that change per send (packet id, a timestamp at the start of a PUBLISH payload).
// Called by: load/client.ts and load/publisher.ts. Never allocates per message on the hot path:
// `PublishTemplate.writeInto` and `AckTemplate.writeInto` write into the connection's output
// buffer.
import mqtt from "mqtt-packet";

/** Packet type numbers (the high nibble of the first byte). */
export const PacketType = {
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  suback: 9,
  pingresp: 13,
} as const;

const v4 = { protocolVersion: 4 } as const;

function encode(packet: mqtt.Packet): Buffer {
  return mqtt.generate(packet, v4);
}

/** Length of the fixed header (type byte and Remaining Length varint) of an encoded packet. */
function fixedHeaderLength(packet: Buffer): number {
  let i = 1;
  while (((packet[i] ?? 0) & 0x80) !== 0) i++;
  return i + 1;
}

export function encodeConnect(clientId: string, clean: boolean, keepAliveSec: number): Buffer {
  return encode({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clientId,
    clean,
    keepalive: keepAliveSec,
  });
}

export function encodeSubscribe(packetId: number, filter: string, qos: 0 | 1 | 2): Buffer {
  return encode({ cmd: "subscribe", messageId: packetId, subscriptions: [{ topic: filter, qos }] });
}

export function encodeDisconnect(): Buffer {
  return encode({ cmd: "disconnect" });
}

/** A 4-byte ack (PUBACK, PUBREC, PUBREL, PUBCOMP) with its packet id patched in. */
export class AckTemplate {
  readonly #first: number;

  constructor(cmd: "puback" | "pubrec" | "pubrel" | "pubcomp") {
    const template = encode({ cmd, messageId: 1 });
    if (template.length !== 4 || template[1] !== 2) throw new Error(`unexpected ${cmd} length`);
    this.#first = template[0] as number;
  }

  /** Writes the ack for `packetId` to `target` at `offset`; returns the offset after it. */
  writeInto(target: Buffer, offset: number, packetId: number): number {
    target[offset] = this.#first;
    target[offset + 1] = 2;
    target[offset + 2] = packetId >> 8;
    target[offset + 3] = packetId & 0xff;
    return offset + 4;
  }
}

export const ACK_BYTES = 4;

/**
 * A PUBLISH of a fixed topic, QoS and payload size. The first 8 payload bytes can carry a
 * timestamp (performance.now() as a float64) so the receiving side can compute latency.
 */
export class PublishTemplate {
  readonly bytes: number;
  readonly qos: 0 | 1 | 2;
  readonly #template: Buffer;
  readonly #packetIdAt: number;
  readonly #payloadAt: number;

  constructor(topic: string, qos: 0 | 1 | 2, payloadBytes: number) {
    if (payloadBytes < 8) throw new Error("payload must hold an 8-byte timestamp");
    this.qos = qos;
    this.#template = encode({
      cmd: "publish",
      topic,
      payload: Buffer.alloc(payloadBytes, 0x61),
      qos,
      messageId: qos > 0 ? 1 : undefined,
      retain: false,
      dup: false,
    } as mqtt.IPublishPacket);
    this.bytes = this.#template.length;
    this.#packetIdAt = fixedHeaderLength(this.#template) + 2 + Buffer.byteLength(topic);
    this.#payloadAt = this.#packetIdAt + (qos > 0 ? 2 : 0);
    if (this.#payloadAt + payloadBytes !== this.bytes) throw new Error("publish layout mismatch");
  }

  /** Copies the packet to `target` at `offset`; returns the offset after it. */
  writeInto(target: Buffer, offset: number, packetId: number, stampMs: number): number {
    target.set(this.#template, offset);
    if (this.qos > 0) {
      target[offset + this.#packetIdAt] = packetId >> 8;
      target[offset + this.#packetIdAt + 1] = packetId & 0xff;
    }
    target.writeDoubleBE(stampMs, offset + this.#payloadAt);
    return offset + this.bytes;
  }
}
