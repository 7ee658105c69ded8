// Minimal incremental MQTT packet splitter for the load generator.
//
// Owns: cutting a TCP byte stream into packets (fixed header + Remaining Length) and handing
// each one, without copying, to a callback. Called by: load/client.ts, whose socket reads into
// one static buffer shared by every connection (net.connect's `onread`), so nothing here may
// keep a reference to the buffer it was given after `push` returns.
// It decodes nothing past the fixed header: the client reads packet ids and timestamps itself,
// which is all it needs.
// Invariant: the bytes of an incomplete packet are copied into `#carry` (the only copy made);
// the next `push` first completes that packet from the new bytes, then splits the rest in place.

export type PacketHandler = (
  type: number,
  flags: number,
  buf: Buffer,
  bodyStart: number,
  bodyEnd: number,
) => void;

const MAX_LENGTH_BYTES = 4;
const MIN_CARRY_BYTES = 256;

/** Remaining Length of the packet whose body `frameStart` last returned the start of. */
let frameLength = 0;

/**
 * Where the body of the packet starting at `pos` begins (its Remaining Length is left in
 * `frameLength`), or -1 when the fixed header is not complete in `buf[pos, end)`.
 * Throws on a Remaining Length longer than four bytes.
 */
function frameStart(buf: Buffer, pos: number, end: number): number {
  let length = 0;
  let multiplier = 1;
  let i = pos + 1;
  for (let n = 0; n < MAX_LENGTH_BYTES; n++) {
    if (i >= end) return -1;
    const byte = buf[i++] as number;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      frameLength = length;
      return i;
    }
    multiplier *= 128;
  }
  throw new Error("malformed Remaining Length from broker");
}

export class PacketReader {
  readonly #onPacket: PacketHandler;
  #carry: Buffer = Buffer.alloc(0);
  #carryLength = 0;

  constructor(onPacket: PacketHandler) {
    this.#onPacket = onPacket;
  }

  /** Bytes of an incomplete packet held until the next push. */
  get pendingBytes(): number {
    return this.#carryLength;
  }

  /**
   * Hands every packet completed by `buf[start, end)` to the handler, in order. The handler
   * sees the bytes only during its call: `buf` (or the carry) is reused afterwards.
   */
  push(buf: Buffer, start: number, end: number): void {
    let pos = start;
    if (this.#carryLength > 0) {
      pos = this.#completeCarry(buf, start, end);
      if (pos < 0) return;
    }
    while (pos < end) {
      const bodyStart = frameStart(buf, pos, end);
      if (bodyStart < 0 || end - bodyStart < frameLength) break;
      const bodyEnd = bodyStart + frameLength;
      const first = buf[pos] as number;
      this.#onPacket(first >> 4, first & 0x0f, buf, bodyStart, bodyEnd);
      pos = bodyEnd;
    }
    if (pos < end) this.#append(buf, pos, end);
  }

  /**
   * Moves bytes from `buf[start, end)` into the carry until its packet is complete, hands that
   * packet on and returns where the rest of `buf` begins; -1 when `buf` ran out first.
   */
  #completeCarry(buf: Buffer, start: number, end: number): number {
    let pos = start;
    while (true) {
      const bodyStart = frameStart(this.#carry, 0, this.#carryLength);
      if (bodyStart < 0) {
        // The fixed header itself is split: take one byte at a time (at most four).
        if (pos === end) return -1;
        this.#append(buf, pos, pos + 1);
        pos++;
        continue;
      }
      const total = bodyStart + frameLength;
      const take = Math.min(total - this.#carryLength, end - pos);
      this.#append(buf, pos, pos + take);
      pos += take;
      if (this.#carryLength < total) return -1;
      this.#carryLength = 0;
      const first = this.#carry[0] as number;
      this.#onPacket(first >> 4, first & 0x0f, this.#carry, bodyStart, total);
      return pos;
    }
  }

  #append(buf: Buffer, from: number, to: number): void {
    const needed = this.#carryLength + (to - from);
    if (needed > this.#carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#carry.length * 2, MIN_CARRY_BYTES));
      this.#carry.copy(grown, 0, 0, this.#carryLength);
      this.#carry = grown;
    }
    buf.copy(this.#carry, this.#carryLength, from, to);
    this.#carryLength = needed;
  }
}
