// The AUTH packets of an enhanced authentication during the CONNECT
// handshake. While the CONNECT handler runs, link.ts holds the packets that
// follow it; when the handler waits for the client's next AUTH, this takes
// the first held packet, or resumes reading until one comes. Until CONNACK a
// client that named a method sends only AUTH or DISCONNECT ([MQTT-3.1.2-30]):
// DISCONNECT ends the handshake quietly, anything else is a protocol error.
//
// Who calls it: link.ts (offer, next, cancel). It never touches the socket
// itself; the link passes what it needs.

import { type AuthPacket, type MqttPacket, ProtocolError } from "../protocol/index.ts";

interface Waiter {
  resolve: (packet: AuthPacket | undefined) => void;
  reject: (error: ProtocolError) => void;
}

export interface HandshakeAuthHooks {
  /** Reading resumes while the handler waits for an AUTH, and pauses once one came. */
  pause(): void;
  resume(): void;
  /** The client sent DISCONNECT during the exchange. */
  closeGracefully(): void;
}

export class HandshakeAuth {
  readonly #hooks: HandshakeAuthHooks;
  #waiter: Waiter | undefined;

  constructor(hooks: HandshakeAuthHooks) {
    this.#hooks = hooks;
  }

  /** Hands a packet read during the handshake to a waiting exchange; false when none waits. */
  offer(packet: MqttPacket): boolean {
    const waiter = this.#waiter;
    if (waiter === undefined) return false;
    this.#waiter = undefined;
    this.#hooks.pause();
    this.#answer(waiter, packet);
    return true;
  }

  /** The client's next AUTH: the first of `held`, or the next packet read. */
  next(held: MqttPacket[]): Promise<AuthPacket | undefined> {
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const first = held.shift();
      if (first !== undefined) {
        this.#answer(waiter, first);
        return;
      }
      this.#waiter = waiter;
      this.#hooks.resume();
    });
  }

  /** The connection closed: a waiting exchange ends without an answer. */
  cancel(): void {
    this.#waiter?.resolve(undefined);
    this.#waiter = undefined;
  }

  #answer(waiter: Waiter, packet: MqttPacket): void {
    if (packet.cmd === "auth") {
      waiter.resolve(packet);
    } else if (packet.cmd === "disconnect") {
      this.#hooks.closeGracefully();
      waiter.resolve(undefined);
    } else {
      waiter.reject(new ProtocolError("ProtocolError", `${packet.cmd} before CONNACK`));
    }
  }
}
