// One connection's life: decodes packets from the socket, runs the CONNECT
// handshake (through handlers/connect.ts, with the AUTH packets of an
// enhanced authentication), dispatches packets to their handlers, enforces
// connection_timeout_ms and the keep-alive (1.5 x), turns every
// ProtocolError into its answer through answer-error.ts, and sends what the
// router hands it through its PacketWriter (packet-writer.ts: encoding within
// the client's limits, templates, one socket write per turn) with
// backpressure (reading pauses while the socket's buffer is full; delivery
// resumes on 'drain').
//
// Who calls it: the server creates one per accepted connection, over any byte
// stream (a TCP or TLS socket, or a WebSocket seen as a stream). It calls the
// router; the router calls it back through SessionLink.

import type { Duplex } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../log.ts";
import {
  type AuthPacket,
  createSinkDecoder,
  type Decoder,
  type DecoderLimits,
  type DecoderSink,
  type MqttPacket,
  ProtocolError,
  type ProtocolVersion,
} from "../protocol/index.ts";
import type { CommitWaiter, OutgoingPublish, Router, Session } from "../router/index.ts";
import { AckQueue } from "./ack-queue.ts";
import { answerFor } from "./answer-error.ts";
import type { AuthState, ClientLimits, LinkContext } from "./context.ts";
import { dispatch } from "./dispatch.ts";
import { HandshakeAuth } from "./handshake-auth.ts";
import {
  type ClientIdentity,
  type LinkOptions,
  maxIncomingPacketBytes,
  NO_PEER_INFO,
  type PeerInfo,
} from "./options.ts";
import { PacketWriter, type WriterHost } from "./packet-writer.ts";
import { InboundAliases, NO_INBOUND_ALIASES } from "./topic-aliases.ts";

/** How often a draining link looks whether its client has acknowledged everything. */
const DRAIN_POLL_MS = 10;

/** How long a closing link waits for the peer to read our last packet and close. */
const CLOSE_GRACE_MS = 2000;

type State = "connecting" | "connected" | "closing" | "closed";

/** The decoder limits of each listener's links (one object per LinkOptions, not per link). */
const decoderLimits = new WeakMap<LinkOptions, DecoderLimits>();

function decoderLimitsOf(options: LinkOptions): DecoderLimits {
  let limits = decoderLimits.get(options);
  if (limits === undefined) {
    limits = { maxPacketBytes: maxIncomingPacketBytes(options) };
    decoderLimits.set(options, limits);
  }
  return limits;
}

/** Where a stream's shared handlers find its link. */
const LINK = Symbol("link");
type LinkedStream = Duplex & { [LINK]?: Link };

export class Link implements LinkContext, DecoderSink, WriterHost {
  readonly router: Router;
  readonly options: LinkOptions;
  readonly peer: PeerInfo;
  readonly inboundAliases: InboundAliases;
  inboundUnacked = 0;
  auth: AuthState | undefined;
  identity: ClientIdentity | undefined;
  #logger: Logger;
  readonly #socket: Duplex;
  readonly #writer: PacketWriter;
  #decoder: Decoder | undefined;
  #state: State = "connecting";
  #version: ProtocolVersion;
  #session: Session | undefined;
  #slotHeld = false;
  #publishWillOnClose = true;
  #connectTimer: NodeJS.Timeout | undefined;
  /** True while the CONNECT handler runs; packets that follow it are held until it ends. */
  #handshaking = false;
  /** The packets held while CONNECT is handled; made when one is. */
  #held: MqttPacket[] | undefined;
  /** Set by drain(): reading stays paused for good, whatever 'drain' or a handshake says. */
  #draining = false;
  // Made on first use, so that an idle connection does not carry them.
  #acks: AckQueue | undefined;
  #qos0Waiter: CommitWaiter | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  /** A packet arrived in the read being decoded: the keep-alive restarts once it is done. */
  #received = false;
  /** Made when the handshake first needs it (an AUTH exchange, or packets held behind CONNECT). */
  #handshakeAuthState: HandshakeAuth | undefined;

  constructor(
    socket: Duplex,
    options: LinkOptions,
    router: Router,
    logger: Logger,
    peer: PeerInfo = NO_PEER_INFO,
  ) {
    this.#socket = socket;
    this.#writer = new PacketWriter(socket, this);
    this.options = options;
    this.peer = peer;
    // A WebSocket listener ("any") may serve MQTT 5 clients, which may use topic aliases.
    const aliasMax = options.kind === "v4" ? 0 : options.topicAliasMax;
    this.inboundAliases = aliasMax === 0 ? NO_INBOUND_ALIASES : new InboundAliases(aliasMax);
    this.router = router;
    this.#logger = logger;
    this.#version = options.kind === "v5" ? 5 : 4;
  }

  get logger(): Logger {
    return this.#logger;
  }

  get version(): ProtocolVersion {
    return this.#version;
  }

  get session(): Session {
    if (this.#session === undefined) throw new ProtocolError("ProtocolError", "no session yet");
    return this.#session;
  }

  get open(): boolean {
    return this.#state === "connecting" || this.#state === "connected";
  }

  get writable(): boolean {
    return this.#state === "connected" && !this.#socket.writableNeedDrain;
  }

  /**
   * Starts reading. [MQTT-3.1.0-1] Until CONNECT arrives, only the connect
   * timeout runs: connection_timeout_ms, less what a TLS or WebSocket
   * handshake already took (the server passes what is left).
   */
  start(connectTimeoutMs: number = this.options.connectionTimeoutMs): void {
    const socket = this.#socket as LinkedStream;
    // The link is its decoder's sink: no closures per connection.
    this.#decoder = createSinkDecoder(decoderLimitsOf(this.options), this);
    // Shared handlers that find the link through the stream (one set for all
    // links, rather than four closures per connection).
    socket[LINK] = this;
    socket.on("data", Link.#onData);
    socket.on("drain", Link.#onDrain);
    socket.on("error", Link.#onError);
    socket.on("close", Link.#onStreamClose);
    this.#connectTimer = setTimeout(() => {
      this.#logger.warn({ event: "conn.closed", reason: "connect_timeout" }, "no CONNECT in time");
      this.#destroy();
    }, connectTimeoutMs);
    this.#connectTimer.unref();
  }

  /** DecoderSink: called by this link's decoder only. */
  packetDecoded(packet: MqttPacket): void {
    this.#onPacket(packet);
  }

  /** DecoderSink: called by this link's decoder only. */
  decodeFailed(error: ProtocolError): void {
    this.#reject(error);
  }

  // Called with `this` = the stream (EventEmitter's convention), not the class.
  static readonly #onData = function (this: LinkedStream, chunk: Buffer): void {
    const link = this[LINK];
    if (link?.open !== true || link.#draining) return;
    link.#decoder?.push(chunk);
    // Once per read rather than once per packet: the packets of one read arrive together.
    if (link.#received) {
      link.#received = false;
      link.#keepAliveTimer?.refresh();
    }
  };

  static readonly #onDrain = function (this: LinkedStream): void {
    const link = this[LINK];
    if (link === undefined || link.#state !== "connected") return;
    if (!link.#handshaking && !link.#draining) this.resume();
    if (link.#session !== undefined) link.router.pump(link.#session);
  };

  static readonly #onError = function (this: LinkedStream, error: Error): void {
    const link = this[LINK];
    if (link !== undefined) {
      link.#logger.debug({ event: "conn.failed", err: error }, "socket error");
    }
  };

  static readonly #onStreamClose = function (this: LinkedStream): void {
    const link = this[LINK];
    if (link !== undefined) link.#onClose();
  };

  accept(
    clientId: string,
    version: ProtocolVersion,
    keepAliveSec: number,
    session: Session,
    limits: ClientLimits,
  ): void {
    this.#version = version;
    this.#session = session;
    this.#writer.adopt(limits);
    this.#state = "connected";
    this.#logger = this.#logger.child({ client_id: clientId });
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    if (keepAliveSec > 0) {
      // [MQTT-3.1.2-24] No packet within 1.5 x the keep-alive: the connection is dead.
      this.#keepAliveTimer = setTimeout(() => {
        this.#logger.warn({ event: "conn.closed", reason: "keep_alive" }, "keep-alive expired");
        this.#reject(new ProtocolError("KeepAliveTimeout", "keep-alive expired"));
      }, keepAliveSec * 1500);
      this.#keepAliveTimer.unref();
    }
  }

  adoptVersion(version: ProtocolVersion): void {
    this.#version = version;
  }

  adoptLimits(limits: ClientLimits): void {
    this.#writer.adopt(limits);
  }

  holdSlot(): boolean {
    this.#slotHeld = this.options.slots.tryAcquire();
    return this.#slotHeld;
  }

  reserveAck(): (packet: MqttPacket | undefined) => void {
    this.#acks ??= new AckQueue((packet) => this.send(packet));
    return this.#acks.reserve();
  }

  get qos0Waiter(): CommitWaiter {
    this.#qos0Waiter ??= {
      committed: () => undefined,
      failed: (error) => this.handlerFailed(error),
    };
    return this.#qos0Waiter;
  }

  send(packet: MqttPacket): void {
    this.#writer.send(packet);
  }

  sendPublish(publish: OutgoingPublish): void {
    this.#writer.sendPublish(publish);
  }

  /** WriterHost: a packet we could not encode (our bug): the connection is dropped. */
  encodeFailed(): void {
    this.#destroy();
  }

  /**
   * WriterHost: a PUBLISH too large for the client was not sent; a QoS 1/2
   * one is released as if acknowledged ([MQTT-3.1.2-25]), after the current
   * round of sends, so that the router's delivery order is kept.
   */
  dropped(publish: OutgoingPublish): void {
    const session = this.#session;
    const packetId = publish.packetId;
    if (session === undefined || packetId === undefined || publish.qos === 0) return;
    queueMicrotask(() => {
      // A link closed meanwhile leaves the message in flight: the next connection gets it.
      if (!this.open) return;
      if (publish.qos === 1) {
        this.router.puback(session, packetId);
        return;
      }
      // A refused PUBREC ends a QoS 2 delivery without PUBREL.
      this.router.pubrec(session, packetId, true).catch((error: unknown) => {
        this.#logger.error({ event: "packet.failed", err: error }, "dropped message not released");
      });
    });
  }

  sendPubrel(packetId: number): void {
    this.send({ cmd: "pubrel", packetId });
  }

  /** [MQTT-3.1.4-2] The session moved to a newer connection: v5 gets DISCONNECT 0x8E. */
  takeOver(): void {
    this.#publishWillOnClose = false; // the router has dealt with the will
    this.#logger.info({ event: "conn.closed", reason: "taken_over" }, "connection taken over");
    this.#closeWith(new ProtocolError("SessionTakenOver", "session taken over"));
  }

  /**
   * The broker is stopping: v5 clients get DISCONNECT 0x8B. The client did
   * not end the connection, so its will follows the rules of a lost
   * connection (spec 3.1.2.5): published before the log closes, or, when
   * delayed, kept with its persistent session for the next start.
   */
  shutdown(): void {
    if (this.#state === "connected") {
      this.#closeWith(new ProtocolError("ServerShuttingDown", "broker stopping"));
    } else {
      this.#destroy();
    }
  }

  /**
   * The broker is stopping, and the router sends nothing new: reads on until
   * the client has acknowledged every PUBLISH in flight to it (or until
   * `deadlineMs`), then stops reading, sends the acknowledgements of the
   * publishes already read, each after its commit, and closes as shutdown()
   * does. What either side acknowledged is then not sent again after the
   * restart; what was not read yet is sent again by the client.
   */
  async drain(deadlineMs: number): Promise<void> {
    const session = this.#session;
    // The drain's timers keep the process alive (they are bounded by the deadline): a
    // broker.close() must finish its storage steps even when no socket is left open.
    while (
      this.#state === "connected" &&
      session !== undefined &&
      !this.router.deliverySettled(session) &&
      Date.now() < deadlineMs
    ) {
      await delay(DRAIN_POLL_MS);
    }
    this.#draining = true;
    this.#socket.pause();
    const waitMs = Math.max(0, deadlineMs - Date.now());
    const timeout = new AbortController();
    await Promise.race([
      this.#acks?.idle() ?? Promise.resolve(),
      delay(waitMs, undefined, { signal: timeout.signal }).catch(() => undefined),
    ]);
    timeout.abort();
    this.shutdown();
  }

  closeGracefully(publishWill: boolean): void {
    this.#publishWillOnClose = publishWill;
    this.#end();
  }

  #onPacket(packet: MqttPacket): void {
    if (!this.open) return;
    // [MQTT-3.1.2-24] Any packet restarts the keep-alive (at the end of the read, #onData).
    this.#received = true;
    if (this.#logger.isLevelEnabled("debug")) {
      this.#logger.debug({ event: "packet.received", packet: packet.cmd }, "received");
    }
    // While CONNECT is being handled (the password check is asynchronous), later packets
    // wait here, in order; reading is paused, so this holds at most the chunks already read.
    if (this.#handshaking) {
      if (!this.#handshakeAuth().offer(packet)) {
        this.#held ??= [];
        this.#held.push(packet);
      }
      return;
    }
    this.#dispatch(packet);
  }

  nextAuthPacket(): Promise<AuthPacket | undefined> {
    if (!this.open) return Promise.resolve(undefined);
    this.#held ??= [];
    return this.#handshakeAuth().next(this.#held);
  }

  #handshakeAuth(): HandshakeAuth {
    this.#handshakeAuthState ??= new HandshakeAuth({
      pause: () => this.#socket.pause(),
      resume: () => {
        if (!this.#draining && !this.#socket.writableNeedDrain) this.#socket.resume();
      },
      closeGracefully: () => this.closeGracefully(false),
    });
    return this.#handshakeAuthState;
  }

  #dispatch(packet: MqttPacket): void {
    let result: Promise<void> | undefined;
    try {
      result = dispatch(this, packet, this.#state === "connected");
    } catch (error) {
      this.#onHandlerError(error);
      return;
    }
    if (result === undefined) return;
    if (packet.cmd !== "connect") {
      result.catch((error: unknown) => this.#onHandlerError(error));
      return;
    }
    this.#handshaking = true;
    this.#socket.pause();
    result.then(
      () => {
        this.#handshaking = false;
        const held = this.#held;
        this.#held = undefined;
        for (const packet of held ?? []) {
          if (!this.open) return;
          this.#dispatch(packet);
        }
        if (this.open && !this.#draining && !this.#socket.writableNeedDrain) {
          this.#socket.resume();
        }
      },
      (error: unknown) => {
        this.#handshaking = false;
        this.#held = undefined;
        this.#onHandlerError(error);
      },
    );
  }

  handlerFailed(error: unknown): void {
    this.#onHandlerError(error);
  }

  #onHandlerError(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.#reject(error);
      return;
    }
    // Not the client's fault (the log failed, or a bug): close without acknowledging.
    this.#logger.error({ event: "packet.failed", err: error }, "packet handling failed");
    this.#destroy();
  }

  /** A peer's mistake: log it, answer it, close. */
  #reject(error: ProtocolError): void {
    if (!this.open) return;
    this.#logger.warn(
      { event: "packet.rejected", reason_code: error.reasonCode, reason: error.reason, err: error },
      "connection refused or closed for a protocol error",
    );
    this.#closeWith(error);
  }

  #closeWith(error: ProtocolError): void {
    const answer = answerFor(error, this.#version, this.#state === "connected");
    if (answer.packet !== undefined) this.send(answer.packet);
    this.#end();
  }

  /** Flushes what was written, then closes; destroys the socket if the peer lingers. */
  #end(): void {
    if (!this.open) return;
    this.#state = "closing";
    this.#clearTimers();
    this.#writer.flush();
    this.#socket.end();
    setTimeout(() => this.#destroy(), CLOSE_GRACE_MS).unref();
  }

  #destroy(): void {
    this.#clearTimers();
    if (this.#state !== "closed") this.#state = "closing";
    this.#writer.discard();
    this.#socket.destroy();
  }

  #clearTimers(): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#keepAliveTimer);
  }

  #onClose(): void {
    const wasConnected = this.#session !== undefined;
    this.#state = "closed";
    this.#clearTimers();
    this.#handshakeAuthState?.cancel();
    if (this.#slotHeld) {
      this.#slotHeld = false;
      this.options.slots.release();
    }
    if (wasConnected && this.#session !== undefined) {
      this.router.disconnect(this.#session, this, { publishWill: this.#publishWillOnClose });
    }
    this.#logger.info({ event: "conn.closed" }, "connection closed");
  }
}
