// One raw MQTT 3.1.1 connection of the load generator.
//
// Owns: a node:net socket, the CONNECT / SUBSCRIBE handshakes, answering the broker's QoS 1/2
// flows (PUBACK for QoS 1, PUBREC then PUBCOMP for QoS 2, PUBREL after a PUBREC for our own
// publishes) and the connection's output: every byte queued in one event-loop turn (the acks
// of all reads, the PUBLISH batch of its publisher) goes out in one socket write.
// Called by: load/publisher.ts and the scenario scripts. It keeps no per-message state of its
// own: packet-id windows belong to load/publisher.ts.
// Per-packet cost is kept small: reads land in one static buffer shared by all connections
// (net.connect's `onread`, so no Buffer per read), packets are split and acked in place, acks
// and publishes are written straight into a reusable output buffer, and one setImmediate per
// turn serves every connection with something to do.
import net from "node:net";
import { PacketReader } from "./packet-reader.ts";
import {
  AckTemplate,
  encodeConnect,
  encodeDisconnect,
  encodeSubscribe,
  PacketType,
} from "./packets.ts";

export interface ClientOptions {
  host: string;
  port: number;
  clientId: string;
  clean: boolean;
  keepAliveSec?: number;
  timeoutMs: number;
}

export interface ClientHandlers {
  /**
   * A PUBLISH arrived; its ack (if any) is already queued. `payloadStart` is inside `buf`, which
   * is reused after the call returns: read what you need during it.
   */
  onPublish?: (buf: Buffer, payloadStart: number, payloadEnd: number, qos: number) => void;
  /** A QoS 1/2 publish of ours is finished (PUBACK, or PUBCOMP at QoS 2). */
  onAcked?: (packetId: number) => void;
  /** All packets of one read were handled. */
  onChunk?: () => void;
  /** This connection's turn after `wake()`: queue output now, it is written right after. */
  onTurn?: () => void;
}

const puback = new AckTemplate("puback");
const pubrec = new AckTemplate("pubrec");
const pubrel = new AckTemplate("pubrel");
const pubcomp = new AckTemplate("pubcomp");

/** One read buffer for every connection: a read is fully handled before the next one starts. */
const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
/** First size of a connection's output buffer; it grows to the largest turn's output. */
const MIN_OUT_BYTES = 512;

export class RawClient {
  /** Clients with a turn due in the next check phase, and whether one setImmediate is queued. */
  static #due: RawClient[] = [];
  static #spare: RawClient[] = [];
  static #turnQueued = false;

  readonly socket: net.Socket;
  handlers: ClientHandlers = {};
  /** PUBLISH packets received since the connection opened. */
  received = 0;
  readonly closed: Promise<void>;
  #reader: PacketReader;
  /** Output of this turn: `#out[0, #outLength)`; replaced when the socket kept it after a write. */
  #out: Buffer = Buffer.allocUnsafe(0);
  #outLength = 0;
  #scheduled = false;
  #wakeDue = false;
  #waiting = new Map<number, (body: Buffer) => void>();

  private constructor(options: ClientOptions) {
    this.#reader = new PacketReader((type, flags, buf, start, end) =>
      this.#onPacket(type, flags, buf, start, end),
    );
    this.socket = net.connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (bytes: number, buf: Uint8Array): boolean => {
          this.#onRead(buf as Buffer, bytes);
          return true;
        },
      },
    });
    this.closed = new Promise((resolve) => this.socket.once("close", () => resolve()));
    this.socket.on("error", () => {
      // The 'close' event that follows is what callers wait on; counts show the loss.
    });
  }

  /** Opens a connection and completes CONNECT/CONNACK. Rejects on refusal or timeout. */
  static async connect(
    options: ClientOptions,
  ): Promise<{ client: RawClient; sessionPresent: boolean }> {
    const client = new RawClient(options);
    const connack = client.#expect(PacketType.connack, options.timeoutMs);
    client.send(encodeConnect(options.clientId, options.clean, options.keepAliveSec ?? 0));
    const body = await connack;
    if (body[1] !== 0) {
      client.socket.destroy();
      throw new Error(`CONNACK return code ${body[1]} for ${options.clientId}`);
    }
    return { client, sessionPresent: ((body[0] ?? 0) & 1) === 1 };
  }

  async subscribe(filter: string, qos: 0 | 1 | 2, timeoutMs: number): Promise<void> {
    const suback = this.#expect(PacketType.suback, timeoutMs);
    this.send(encodeSubscribe(1, filter, qos));
    const body = await suback;
    if ((body[2] ?? 0x80) === 0x80) throw new Error(`SUBACK refused ${filter}`);
  }

  /** Queues bytes; everything queued in this turn goes out in one socket write. */
  send(bytes: Buffer): void {
    const at = this.#room(bytes.length);
    this.#out.set(bytes, at);
    this.#outLength = at + bytes.length;
    this.#schedule();
  }

  /**
   * Room for `bytes` more bytes of output: returns the buffer to write them into, from
   * `outLength` on; report the new end with `commit`. Both within one synchronous step.
   */
  claim(bytes: number): Buffer {
    this.#room(bytes);
    return this.#out;
  }

  /** Where bytes written into the buffer `claim` returned start. */
  get outLength(): number {
    return this.#outLength;
  }

  /** Output written up to `end` of the claimed buffer; it goes out with this turn's write. */
  commit(end: number): void {
    this.#outLength = end;
    this.#schedule();
  }

  /** Asks for a turn: `handlers.onTurn` runs in the next check phase, once however often asked. */
  wake(): void {
    this.#wakeDue = true;
    this.#schedule();
  }

  /** True when the socket has buffered more than its high-water mark. */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Sends DISCONNECT and waits for the socket to close (or destroys it after `timeoutMs`). */
  async disconnect(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) return;
    const bytes = encodeDisconnect();
    const at = this.#room(bytes.length);
    this.#out.set(bytes, at);
    this.#outLength = at + bytes.length;
    this.#flush();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }

  static #runTurns(): void {
    RawClient.#turnQueued = false;
    const list = RawClient.#due;
    RawClient.#due = RawClient.#spare;
    RawClient.#spare = list;
    for (const client of list) client.#turn();
    list.length = 0;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    RawClient.#due.push(this);
    if (!RawClient.#turnQueued) {
      RawClient.#turnQueued = true;
      setImmediate(RawClient.#runTurns);
    }
  }

  /** Runs `onTurn` if woken (still marked scheduled, so its output joins this write), writes. */
  #turn(): void {
    if (this.#wakeDue) {
      this.#wakeDue = false;
      this.handlers.onTurn?.();
    }
    this.#flush();
    this.#scheduled = false;
    if (this.#wakeDue) this.#schedule();
  }

  /** Makes room for `bytes` more output bytes; returns the offset they go at. */
  #room(bytes: number): number {
    const needed = this.#outLength + bytes;
    if (needed > this.#out.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#out.length * 2, MIN_OUT_BYTES));
      this.#out.copy(grown, 0, 0, this.#outLength);
      this.#out = grown;
    }
    return this.#outLength;
  }

  #flush(): void {
    if (this.#outLength === 0) return;
    if (this.socket.destroyed) {
      this.#outLength = 0;
      return;
    }
    this.socket.write(this.#out.subarray(0, this.#outLength));
    this.#outLength = 0;
    // Bytes the kernel did not take at once stay referenced by the socket: write elsewhere next.
    if (this.socket.writableLength > 0) this.#out = Buffer.allocUnsafe(this.#out.length);
  }

  #onRead(buf: Buffer, bytes: number): void {
    try {
      this.#reader.push(buf, 0, bytes);
    } catch (err) {
      this.socket.destroy(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.#outLength > 0) this.#schedule();
    this.handlers.onChunk?.();
  }

  #ack(template: AckTemplate, packetId: number): void {
    const at = this.#room(4);
    this.#outLength = template.writeInto(this.#out, at, packetId);
  }

  #expect(type: number, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(type);
        this.socket.destroy();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for packet type ${type}`));
      }, timeoutMs);
      this.socket.once("close", () => {
        clearTimeout(timer);
        reject(new Error(`connection closed while waiting for packet type ${type}`));
      });
      this.#waiting.set(type, (body) => {
        clearTimeout(timer);
        resolve(body);
      });
    });
  }

  #onPacket(type: number, flags: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case PacketType.publish: {
        const qos = (flags >> 1) & 3;
        let at = start + 2 + ((buf[start] as number) << 8) + (buf[start + 1] as number);
        if (qos > 0) {
          const packetId = ((buf[at] as number) << 8) | (buf[at + 1] as number);
          at += 2;
          this.#ack(qos === 1 ? puback : pubrec, packetId);
        }
        this.received++;
        this.handlers.onPublish?.(buf, at, end, qos);
        return;
      }
      case PacketType.puback:
      case PacketType.pubcomp:
        this.handlers.onAcked?.(((buf[start] as number) << 8) | (buf[start + 1] as number));
        return;
      case PacketType.pubrec:
        this.#ack(pubrel, ((buf[start] as number) << 8) | (buf[start + 1] as number));
        return;
      case PacketType.pubrel:
        this.#ack(pubcomp, ((buf[start] as number) << 8) | (buf[start + 1] as number));
        return;
      default: {
        const waiter = this.#waiting.get(type);
        if (waiter !== undefined) {
          this.#waiting.delete(type);
          waiter(Buffer.from(buf.subarray(start, end)));
        }
      }
    }
  }
}
