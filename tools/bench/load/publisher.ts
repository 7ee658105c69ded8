// Sends a bounded number of pre-encoded PUBLISH packets on one RawClient.
//
// Owns: the packet-id window of one publisher (at most `window` QoS 1/2 publishes unacknowledged,
// refilled in steps of at least a quarter of it, see REFILL_DIVISOR) and an optional gate (end-to-end budget or a fixed rate) that the scenario supplies.
// Called by: the scenario scripts. Sends happen in the client's turn (RawClient.wake), at most
// MAX_BATCH packets per turn written straight into the client's output buffer (one socket write
// per turn with any acks), and stop while the socket is congested until 'drain'.
import type { RawClient } from "./client.ts";
import type { PublishTemplate } from "./packets.ts";

/** Packets written per turn. */
const MAX_BATCH = 256;
const MAX_PACKET_ID = 65_535;
/**
 * QoS 1/2: a window with publishes in flight is refilled once at least 1/REFILL_DIVISOR of it
 * is free. Topping it up after every ack would cost one socket write (and, on loopback, the
 * broker's receive path run on the generator's CPU) per few messages; the window stays the
 * upper bound on what is in flight.
 */
const REFILL_DIVISOR = 4;

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
  readonly #refillMin: number;

  constructor(client: RawClient, options: PublisherOptions) {
    if (options.window < 1 || options.window > MAX_PACKET_ID) throw new Error("bad window");
    this.#client = client;
    this.#options = options;
    this.#refillMin = Math.ceil(options.window / REFILL_DIVISOR);
    client.handlers.onAcked = (packetId) => {
      if (this.#inFlight[packetId] === 1) {
        this.#inFlight[packetId] = 0;
        this.acked++;
        this.lastAckMs = performance.now();
        client.wake();
      }
    };
    client.handlers.onTurn = () => this.#pump();
    client.socket.on("drain", () => client.wake());
  }

  /** True when every message is sent and, at QoS 1/2, acknowledged. */
  get done(): boolean {
    const { count, template } = this.#options;
    return this.sent === count && (template.qos === 0 || this.acked === count);
  }

  /** Asks for one pump in this turn's check phase; repeated calls in a turn coalesce. */
  kick(): void {
    this.#client.wake();
  }

  /** Writes as many publishes as window, gate and count allow into the client's output. */
  #pump(): void {
    const { template, count, window, gate } = this.#options;
    if (this.#client.congested || this.#client.socket.destroyed) return;
    let n = Math.min(count - this.sent, MAX_BATCH);
    if (template.qos > 0) {
      const inFlight = this.sent - this.acked;
      const free = window - inFlight;
      if (inFlight > 0 && free < Math.min(n, this.#refillMin)) return;
      n = Math.min(n, free);
    }
    if (gate !== undefined) n = Math.min(n, gate());
    if (n <= 0) return;
    const now = performance.now();
    if (Number.isNaN(this.firstSendMs)) this.firstSendMs = now;
    const out = this.#client.claim(n * template.bytes);
    let offset = this.#client.outLength;
    for (let i = 0; i < n; i++) {
      const packetId = template.qos > 0 ? this.#takeId() : 0;
      offset = template.writeInto(out, offset, packetId, now);
    }
    this.sent += n;
    this.#client.commit(offset);
    // A full batch may leave more allowed: look again next turn. Otherwise an ack, a delivery
    // (the scenario's kick), the rate ticker or 'drain' is what opens the way again.
    if (n === MAX_BATCH) this.#client.wake();
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
