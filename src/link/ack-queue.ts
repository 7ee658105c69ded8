// Keeps the acknowledgements a link sends in the order their packets came in:
// PUBACK and PUBREC in the order of the PUBLISHes, PUBCOMP in the order of
// the PUBRELs ([MQTT-4.6.0-2], [MQTT-4.6.0-3], [MQTT-4.6.0-4]), even though
// the work behind each (a commit, an index write for a retained message or a
// QoS 2 packet id) can finish in any order. One queue for all three is
// stricter than the spec and costs nothing measurable.
//
// Who uses it: the PUBLISH and PUBREL handlers, through the link.
//
// Invariants: acknowledgements leave in reservation order; a slot settled
// without a packet (its work failed and the link is closing) lets later ones go.

import type { MqttPacket } from "../protocol/index.ts";

interface Slot {
  packet: MqttPacket | undefined;
  settled: boolean;
}

export class AckQueue {
  readonly #send: (packet: MqttPacket) => void;
  readonly #slots: Slot[] = [];
  #head = 0;
  #onIdle: (() => void) | undefined;

  constructor(send: (packet: MqttPacket) => void) {
    this.#send = send;
  }

  /**
   * Reserves the next place in line; call the returned function once with
   * the acknowledgement to send (or undefined to send nothing).
   */
  reserve(): (packet: MqttPacket | undefined) => void {
    const slot: Slot = { packet: undefined, settled: false };
    this.#slots.push(slot);
    return (packet) => {
      if (slot.settled) return;
      slot.settled = true;
      slot.packet = packet;
      this.#flush();
    };
  }

  /** Resolves once every reserved acknowledgement has been settled (and sent, if any). */
  idle(): Promise<void> {
    if (this.#head === this.#slots.length) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onIdle;
      this.#onIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  #flush(): void {
    while (this.#head < this.#slots.length && (this.#slots[this.#head] as Slot).settled) {
      const packet = (this.#slots[this.#head] as Slot).packet;
      this.#head += 1;
      if (packet !== undefined) this.#send(packet);
    }
    // Drop the sent prefix now and then, so the array does not grow without bound.
    if (this.#head > 1024 || this.#head === this.#slots.length) {
      this.#slots.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#slots.length && this.#onIdle !== undefined) {
      const onIdle = this.#onIdle;
      this.#onIdle = undefined;
      onIdle();
    }
  }
}
