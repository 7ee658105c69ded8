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
 * is free, or REFILL_WAIT_MS after it began to wait, whichever comes first. Topping it up after
 * every ack read costs one socket write per few messages, and on loopback every write also runs
 * the broker's TCP receive path on the generator's CPU (measured: 6 of 10 µs per message at
 * fan-in QoS 1 against mosquitto). The time bound keeps a broker that holds small writes back
 * (Nagle, as mosquitto does) from waiting on our delayed ACK. The window stays the upper bound
 * on what is in flight.
 */
const REFILL_DIVISOR = 4;
const REFILL_WAIT_MS = 1;

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
  /** Sends since the start; the refill timer checks it to see whether a send happened. */
  #refills = 0;
  #refillTimerArmed = false;
  /** Set when the window waited REFILL_WAIT_MS: the next pump tops it up however little is free. */
  #refillDue = false;

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
        // A pump now would only find the window not yet free enough: wait for more acks.
        if (this.#windowWaits()) this.#armRefillTimer();
        else client.wake();
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
      if (this.#windowWaits()) {
        this.#armRefillTimer();
        return;
      }
      this.#refillDue = false;
      this.#refills++;
      n = Math.min(n, window - (this.sent - this.acked));
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

  /**
   * QoS 1/2: true while publishes are in flight and less than a refill step of the window is
   * free (unless what is left to send is less), and the wait has not timed out.
   */
  #windowWaits(): boolean {
    const { count, window } = this.#options;
    const inFlight = this.sent - this.acked;
    const step = Math.min(this.#refillMin, count - this.sent, MAX_BATCH);
    return inFlight > 0 && window - inFlight < step && !this.#refillDue;
  }

  /** Makes sure a waiting window is topped up within REFILL_WAIT_MS. */
  #armRefillTimer(): void {
    if (this.#refillTimerArmed) return;
    this.#refillTimerArmed = true;
    const refills = this.#refills;
    setTimeout(() => {
      this.#refillTimerArmed = false;
      if (this.#refills !== refills) return;
      this.#refillDue = true;
      this.#client.wake();
    }, REFILL_WAIT_MS);
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
