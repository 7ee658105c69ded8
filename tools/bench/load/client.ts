// One raw MQTT 3.1.1 connection of the load generator.
//
// Owns: a node:net socket, the CONNECT / SUBSCRIBE handshakes, answering the broker's QoS 1/2
// flows (PUBACK for QoS 1, PUBREC then PUBCOMP for QoS 2, PUBREL after a PUBREC for our own
// publishes) and batching every write of one event-loop turn into one socket write.
// Called by: load/publisher.ts and the scenario scripts. It keeps no per-message state of its
// own: packet-id windows belong to load/publisher.ts.
import net from "node:net";
import { PacketReader } from "./packet-reader.ts";
import {
  ACK_BYTES,
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
  /** A PUBLISH arrived; its ack (if any) is already queued. `payloadStart` is inside `buf`. */
  onPublish?: (buf: Buffer, payloadStart: number, payloadEnd: number, qos: number) => void;
  /** A QoS 1/2 publish of ours is finished (PUBACK, or PUBCOMP at QoS 2). */
  onAcked?: (packetId: number) => void;
  /** All packets of one incoming chunk were handled. */
  onChunk?: () => void;
}

const puback = new AckTemplate("puback");
const pubrec = new AckTemplate("pubrec");
const pubrel = new AckTemplate("pubrel");
const pubcomp = new AckTemplate("pubcomp");

/** Acks answered per incoming chunk before they are written out in one go. */
const ACK_SCRATCH_COUNT = 4096;

export class RawClient {
  readonly socket: net.Socket;
  handlers: ClientHandlers = {};
  /** PUBLISH packets received since the connection opened. */
  received = 0;
  readonly closed: Promise<void>;
  #reader: PacketReader;
  #out: Buffer[] = [];
  #flushScheduled = false;
  #acks = Buffer.allocUnsafe(ACK_SCRATCH_COUNT * ACK_BYTES);
  #ackBytes = 0;
  #waiting = new Map<number, (body: Buffer) => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#reader = new PacketReader((type, flags, buf, start, end) =>
      this.#onPacket(type, flags, buf, start, end),
    );
    socket.on("data", (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#flushAcks();
      this.handlers.onChunk?.();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {
      // The 'close' event that follows is what callers wait on; counts show the loss.
    });
  }

  /** Opens a connection and completes CONNECT/CONNACK. Rejects on refusal or timeout. */
  static async connect(
    options: ClientOptions,
  ): Promise<{ client: RawClient; sessionPresent: boolean }> {
    const socket = net.connect({ host: options.host, port: options.port, noDelay: true });
    const client = new RawClient(socket);
    const connack = client.#expect(PacketType.connack, options.timeoutMs);
    client.send(encodeConnect(options.clientId, options.clean, options.keepAliveSec ?? 0));
    const body = await connack;
    if (body[1] !== 0) {
      socket.destroy();
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
    this.#out.push(bytes);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** True when the socket has buffered more than its high-water mark. */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Sends DISCONNECT and waits for the socket to close (or destroys it after `timeoutMs`). */
  async disconnect(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) return;
    this.#out.push(encodeDisconnect());
    this.#flush();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#out.length === 0 || this.socket.destroyed) return;
    const bytes = this.#out.length === 1 ? (this.#out[0] as Buffer) : Buffer.concat(this.#out);
    this.#out = [];
    this.socket.write(bytes);
  }

  #flushAcks(): void {
    if (this.#ackBytes === 0) return;
    this.send(Buffer.from(this.#acks.subarray(0, this.#ackBytes)));
    this.#ackBytes = 0;
  }

  #ack(template: AckTemplate, packetId: number): void {
    if (this.#ackBytes === this.#acks.length) this.#flushAcks();
    this.#ackBytes = template.writeInto(this.#acks, this.#ackBytes, packetId);
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
        let at = start + 2 + buf.readUInt16BE(start);
        if (qos > 0) {
          const packetId = buf.readUInt16BE(at);
          at += 2;
          this.#ack(qos === 1 ? puback : pubrec, packetId);
        }
        this.received++;
        this.handlers.onPublish?.(buf, at, end, qos);
        return;
      }
      case PacketType.puback:
      case PacketType.pubcomp:
        this.handlers.onAcked?.(buf.readUInt16BE(start));
        return;
      case PacketType.pubrec:
        this.#ack(pubrel, buf.readUInt16BE(start));
        return;
      case PacketType.pubrel:
        this.#ack(pubcomp, buf.readUInt16BE(start));
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
