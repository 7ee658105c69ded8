// Sends a bounded number of pre-encoded PUBLISH packets on one RawClient.
//
// Owns: the packet-id window of one publisher (at most `window` QoS 1/2 publishes unacknowledged)
// and an optional gate (end-to-end budget or a fixed rate) that the scenario supplies.
// Called by: the scenario scripts. Sends happen in batches of at most MAX_BATCH packets, one
// socket write per batch, and stop while the socket is congested until 'drain'.
import type { RawClient } from "./client.ts";
import type { PublishTemplate } from "./packets.ts";

/** Packets encoded into one batch buffer. */
const MAX_BATCH = 256;
const MAX_PACKET_ID = 65_535;

export interface PublisherOptions {
  template: PublishTemplate;
  /** Messages to send in total; the publisher never sends more. */
  count: number;
  /** QoS 1/2: publishes in flight (sent, not yet PUBACK/PUBCOMP). Ignored at QoS 0. */
  window: number;
  /** Extra limit: how many more may be sent now (end-to-end budget, rate). */
  gate?: () => number;
}

export class Publisher {
  sent = 0;
  acked = 0;
  /** performance.now() of the first send, or NaN before it. */
  firstSendMs = Number.NaN;
  /** performance.now() when the last ack arrived (QoS 1/2). */
  lastAckMs = Number.NaN;
  readonly #client: RawClient;
  readonly #options: PublisherOptions;
  readonly #inFlight = new Uint8Array(MAX_PACKET_ID + 1);
  #nextId = 1;
  #kicked = false;

  constructor(client: RawClient, options: PublisherOptions) {
    if (options.window < 1 || options.window > MAX_PACKET_ID) throw new Error("bad window");
    this.#client = client;
    this.#options = options;
    client.handlers.onAcked = (packetId) => {
      if (this.#inFlight[packetId] === 1) {
        this.#inFlight[packetId] = 0;
        this.acked++;
        this.lastAckMs = performance.now();
      }
    };
    const previous = client.handlers.onChunk;
    client.handlers.onChunk = () => {
      previous?.();
      this.kick();
    };
    client.socket.on("drain", () => this.kick());
  }

  /** True when every message is sent and, at QoS 1/2, acknowledged. */
  get done(): boolean {
    const { count, template } = this.#options;
    return this.sent === count && (template.qos === 0 || this.acked === count);
  }

  /** Schedules one pump in this turn's check phase; repeated calls in a turn coalesce. */
  kick(): void {
    if (this.#kicked) return;
    this.#kicked = true;
    setImmediate(() => {
      this.#kicked = false;
      this.#pump();
    });
  }

  #pump(): void {
    const { template, count, window, gate } = this.#options;
    if (this.#client.congested || this.#client.socket.destroyed) return;
    let n = Math.min(count - this.sent, MAX_BATCH);
    if (template.qos > 0) n = Math.min(n, window - (this.sent - this.acked));
    if (gate !== undefined) n = Math.min(n, gate());
    if (n <= 0) return;
    const batch = Buffer.allocUnsafe(n * template.bytes);
    const now = performance.now();
    if (Number.isNaN(this.firstSendMs)) this.firstSendMs = now;
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const packetId = template.qos > 0 ? this.#takeId() : 0;
      offset = template.writeInto(batch, offset, packetId, now);
    }
    this.sent += n;
    this.#client.send(batch);
    this.kick();
  }

  /** A packet id not in flight. The window is far below 65,535, so the scan is short. */
  #takeId(): number {
    while (this.#inFlight[this.#nextId] === 1) this.#advance();
    const id = this.#nextId;
    this.#inFlight[id] = 1;
    this.#advance();
    return id;
  }

  #advance(): void {
    this.#nextId = this.#nextId === MAX_PACKET_ID ? 1 : this.#nextId + 1;
  }
}
