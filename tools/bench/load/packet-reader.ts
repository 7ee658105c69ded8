// Minimal incremental MQTT packet splitter for the load generator.
//
// Owns: cutting a TCP byte stream into packets (fixed header + Remaining Length) and handing
// each one, without copying, to a callback. Called by: load/client.ts. It decodes nothing past
// the fixed header: the client reads packet ids and timestamps itself, which is all it needs.
// Invariant: bytes of an incomplete packet are kept and prepended to the next chunk.

export type PacketHandler = (
  type: number,
  flags: number,
  buf: Buffer,
  bodyStart: number,
  bodyEnd: number,
) => void;

const MAX_LENGTH_BYTES = 4;

export class PacketReader {
  readonly #onPacket: PacketHandler;
  #pending: Buffer | null = null;

  constructor(onPacket: PacketHandler) {
    this.#onPacket = onPacket;
  }

  push(chunk: Buffer): void {
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    let pos = 0;
    while (buf.length - pos >= 2) {
      const first = buf[pos] as number;
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < MAX_LENGTH_BYTES && i < buf.length; n++) {
        const byte = buf[i++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos > MAX_LENGTH_BYTES) throw new Error("malformed Remaining Length from broker");
        break;
      }
      if (buf.length - i < length) break;
      this.#onPacket(first >> 4, first & 0x0f, buf, i, i + length);
      pos = i + length;
    }
    this.#pending = pos < buf.length ? buf.subarray(pos) : null;
  }
}
