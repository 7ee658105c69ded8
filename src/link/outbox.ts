// The bytes a link has to send, gathered over one turn of the event loop and
// written to its socket with one write: a fan-out to a hundred subscribers,
// or a hundred acknowledgements after one commit, costs one system call per
// socket instead of one per packet.
//
// Who uses it: link.ts, for every packet it sends. Packets are queued whole
// (encoded bytes) or as a template (packet-templates.ts) with the packet id
// and DUP flag to patch, copied out only when the batch is written. All
// outboxes with something queued are flushed by one setImmediate per turn,
// in the order they were first queued; a batch that grows past
// FLUSH_AT_BYTES is written at once, so what waits here stays small.
//
// Invariants:
// - bytes leave in the order they were queued;
// - nothing is written after discard() (the socket is being destroyed);
// - the queued bytes stay below FLUSH_AT_BYTES plus one packet.

import type { Duplex } from "node:stream";
import { DUP_FLAG, type PacketTemplate } from "../protocol/index.ts";

/** A batch this large is written at once rather than at the end of the turn. */
export const FLUSH_AT_BYTES = 64 * 1024;

/** Marks a part with no packet id to patch. */
const NO_PATCH = -1;
/** Added to a patched packet id when DUP is to be set too. */
const WITH_DUP = 0x1_0000;

/** Outboxes with bytes queued in this turn, flushed together at its end. */
let due: Outbox[] = [];
let flushScheduled = false;

function flushDue(): void {
  flushScheduled = false;
  const outboxes = due;
  due = [];
  for (const outbox of outboxes) outbox.flush();
}

export class Outbox {
  readonly #socket: Duplex;
  /**
   * Queued packets, three entries each: the bytes, NO_PATCH or the packet id
   * (plus WITH_DUP) to patch, and where the packet id goes. Made on first use
   * (an idle connection holds none).
   */
  #parts: Array<Buffer | number> | undefined;
  #bytes = 0;
  #queued = false;
  #discarded = false;

  /** When a write fills the socket's buffer, the outbox pauses reading from it. */
  constructor(socket: Duplex) {
    this.#socket = socket;
  }

  /** Bytes queued and not yet written to the socket. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Queues an encoded packet. */
  push(bytes: Buffer): void {
    this.#add(bytes, NO_PATCH, NO_PATCH);
  }

  /** Queues a template, to be copied with `packetId` (ignored without a slot) and DUP set or not. */
  pushTemplate(template: PacketTemplate, packetId: number, dup: boolean): void {
    if (template.packetIdAt < 0 && !dup) {
      this.#add(template.bytes, NO_PATCH, NO_PATCH);
      return;
    }
    this.#add(template.bytes, packetId + (dup ? WITH_DUP : 0), template.packetIdAt);
  }

  /** Writes everything queued, in one socket write. */
  flush(): void {
    this.#queued = false;
    const parts = this.#parts;
    if (parts === undefined || this.#discarded) return;
    const total = this.#bytes;
    this.#parts = undefined;
    this.#bytes = 0;
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    let bytes: Buffer;
    if (parts.length === 3 && parts[1] === NO_PATCH) {
      bytes = parts[0] as Buffer;
    } else {
      bytes = Buffer.allocUnsafe(total);
      let at = 0;
      for (let i = 0; i < parts.length; i += 3) {
        const part = parts[i] as Buffer;
        part.copy(bytes, at);
        const patch = parts[i + 1] as number;
        if (patch !== NO_PATCH) {
          if (patch >= WITH_DUP) bytes[at] = (bytes[at] as number) | DUP_FLAG;
          const idAt = parts[i + 2] as number;
          if (idAt >= 0) bytes.writeUInt16BE(patch % WITH_DUP, at + idAt);
        }
        at += part.length;
      }
    }
    // A client that does not read what we send is not read either, until 'drain'.
    if (!socket.write(bytes)) socket.pause();
  }

  /** Drops what is queued and everything queued later: the socket is going away. */
  discard(): void {
    this.#discarded = true;
    this.#parts = undefined;
    this.#bytes = 0;
  }

  #add(bytes: Buffer, patch: number, patchAt: number): void {
    if (this.#discarded) return;
    this.#parts ??= [];
    this.#parts.push(bytes, patch, patchAt);
    this.#bytes += bytes.length;
    if (this.#bytes >= FLUSH_AT_BYTES) {
      this.flush();
      return;
    }
    if (this.#queued) return;
    this.#queued = true;
    due.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDue);
    }
  }
}
