// One listener (`[v4.N]`, `[v5.N]` or `[ws.N]`, each optionally with TLS):
// accepts TCP sockets, paces accepts by `next_connection_delay_ms` (rumqttd
// sleeps that long after each accept; here sockets wait, paused, in a bounded
// queue), runs the TLS and WebSocket handshakes (handshake.ts) and hands each
// resulting stream to a new Link. connection_timeout_ms runs from the TCP
// accept: a client still in its TLS or WebSocket handshake then is closed,
// and the link gets what is left for its CONNECT. It tracks its links so that
// a shutdown can close them.
//
// Who calls it: broker.ts. It never parses MQTT; the link does.

import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  Link,
  type LinkOptions,
  maxIncomingPacketBytes,
  NO_PEER_INFO,
  type PeerInfo,
} from "../link/index.ts";
import { type Logger, withFields } from "../log.ts";
import type { Router } from "../router/index.ts";
import { connectionKey, Handshakes } from "./handshake.ts";
import type { ServerTls } from "./tls-context.ts";

/** Sockets waiting for their turn under accept pacing; beyond this they are dropped. */
export const MAX_PENDING_ACCEPTS = 1024;

export type ListenerKind = "v4" | "v5" | "ws";

export interface ListenerOptions {
  name: string;
  kind: ListenerKind;
  host: string;
  port: number;
  nextConnectionDelayMs: number;
  /** Loaded TLS material (tls-context.ts); absent for plain TCP or WebSocket. */
  tls?: ServerTls;
  link: LinkOptions;
}

export interface ListenerAddress {
  name: string;
  kind: ListenerKind;
  tls: boolean;
  host: string;
  port: number;
}

/** How long a shutdown waits for clients to read their DISCONNECT and close. */
export const SHUTDOWN_GRACE_MS = 500;

/** A process-wide connection number for the `conn` log field. */
let nextConn = 1;

/** An accepted socket whose handshakes have not yet produced a link. */
interface Handshaking {
  socket: Socket;
  acceptedAtMs: number;
  timer: NodeJS.Timeout;
}

/** Keeps an 'error' on a socket that waits for its turn from crashing the broker. */
function ignoreError(): void {}

export class Listener {
  readonly #options: ListenerOptions;
  readonly #router: Router;
  readonly #logger: Logger;
  readonly #handshakes: Handshakes;
  /** Every started link by its stream, until the stream closes. */
  readonly #links = new Map<Duplex, Link>();
  /**
   * One 'close' listener shared by every stream of this listener (`this` is
   * the stream), rather than a closure per connection.
   */
  readonly #forget: (this: Duplex) => void;
  readonly #pending: Socket[] = [];
  readonly #handshaking = new Map<string, Handshaking>();
  #server: Server | undefined;
  #pacingTimer: NodeJS.Timeout | undefined;
  #lastAcceptMs = 0;
  #serverClosed: Promise<void> = Promise.resolve();

  constructor(options: ListenerOptions, router: Router, logger: Logger) {
    this.#options = options;
    this.#router = router;
    this.#logger = logger.child({ listener: options.name });
    this.#handshakes = new Handshakes({
      transport: options.kind === "ws" ? "ws" : "tcp",
      tls: options.tls,
      maxMessageBytes: maxIncomingPacketBytes(options.link),
      logger: this.#logger,
      onStream: (stream, key, peer) => this.#startLink(stream, key, peer),
    });
    const links = this.#links;
    this.#forget = function (this: Duplex) {
      links.delete(this);
    };
  }

  /** Binds the port; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<ListenerAddress> {
    const server = createServer({ noDelay: true }, (socket) => this.#onSocket(socket));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        server.off("error", reject);
        server.on("error", (error) =>
          this.#logger.error({ event: "conn.failed", err: error }, "listener error"),
        );
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        resolve({
          name: this.#options.name,
          kind: this.#options.kind,
          tls: this.#options.tls !== undefined,
          host: this.#options.host,
          port,
        });
      });
    });
  }

  /**
   * Stops accepting and drops sockets still queued or in their handshakes.
   * Existing links stay until closeLinks(), which also waits for the server's
   * 'close' (Node emits it once every connection has ended).
   */
  stopAccepting(): void {
    clearTimeout(this.#pacingTimer);
    for (const socket of this.#pending.splice(0)) socket.destroy();
    for (const { socket, timer } of this.#handshaking.values()) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.#handshaking.clear();
    const server = this.#server;
    if (server === undefined || !server.listening) return;
    this.#serverClosed = new Promise((resolve) => server.close(() => resolve()));
  }

  /**
   * Closes every connection of this listener, each after it has drained
   * (Link.drain: acknowledgements in both directions, until `drainDeadlineMs`);
   * v5 clients get DISCONNECT 0x8B. Waits for the streams to close,
   * destroying those still open SHUTDOWN_GRACE_MS after the last drain.
   */
  async closeLinks(drainDeadlineMs: number): Promise<void> {
    const closed = [...this.#links.keys()].map(
      (stream) => new Promise<void>((resolve) => stream.once("close", () => resolve())),
    );
    await Promise.all([...this.#links.values()].map((link) => link.drain(drainDeadlineMs)));
    const timer = setTimeout(() => {
      for (const stream of this.#links.keys()) stream.destroy();
    }, SHUTDOWN_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(timer);
    await this.#serverClosed;
  }

  #onSocket(socket: Socket): void {
    if (this.#pending.length >= MAX_PENDING_ACCEPTS) {
      this.#logger.warn({ event: "conn.refused", reason: "accept_queue_full" }, "refused");
      socket.destroy();
      return;
    }
    socket.pause();
    socket.on("error", ignoreError); // a reset while queued must not crash the broker
    this.#pending.push(socket);
    this.#drain();
  }

  /** Starts queued sockets, at most one per `next_connection_delay_ms`. */
  #drain(): void {
    if (this.#pacingTimer !== undefined) return;
    const delay = this.#options.nextConnectionDelayMs;
    while (this.#pending.length > 0) {
      const wait = this.#lastAcceptMs + delay - Date.now();
      if (delay > 0 && wait > 0) {
        this.#pacingTimer = setTimeout(() => {
          this.#pacingTimer = undefined;
          this.#drain();
        }, wait);
        return;
      }
      this.#lastAcceptMs = Date.now();
      this.#admit(this.#pending.shift() as Socket);
    }
  }

  /** Starts the socket's handshakes under the connect deadline. */
  #admit(socket: Socket): void {
    if (socket.destroyed) return;
    const key = connectionKey(socket);
    if (this.#handshakes.plain) {
      // Plain TCP: MQTT starts at once, under the whole connect deadline; no
      // handshake bookkeeping stays attached to the socket.
      this.#beginLink(socket, key, NO_PEER_INFO, this.#options.link.connectionTimeoutMs);
      return;
    }
    const timer = setTimeout(() => {
      this.#logger.warn(
        { event: "conn.closed", reason: "handshake_timeout", remote: key },
        "TLS or WebSocket handshake not done within connection_timeout_ms",
      );
      socket.destroy();
    }, this.#options.link.connectionTimeoutMs);
    timer.unref();
    this.#handshaking.set(key, { socket, acceptedAtMs: Date.now(), timer });
    socket.once("close", () => {
      const entry = this.#handshaking.get(key);
      if (entry?.socket !== socket) return;
      clearTimeout(entry.timer);
      this.#handshaking.delete(key);
    });
    this.#handshakes.admit(socket);
  }

  #startLink(stream: Duplex, key: string, peer: PeerInfo): void {
    const entry = this.#handshaking.get(key);
    if (entry === undefined || stream.destroyed) {
      stream.destroy(); // the deadline passed, or the listener is stopping
      return;
    }
    clearTimeout(entry.timer);
    this.#handshaking.delete(key);
    const elapsedMs = Date.now() - entry.acceptedAtMs;
    const remainingMs = Math.max(1, this.#options.link.connectionTimeoutMs - elapsedMs);
    this.#beginLink(stream, key, peer, remainingMs);
  }

  #beginLink(stream: Duplex, key: string, peer: PeerInfo, remainingMs: number): void {
    const conn = nextConn++;
    const logger = withFields(this.#logger, { conn, remote: key });
    logger.debug({ event: "conn.accepted" }, "connection accepted");
    const link = new Link(stream, this.#options.link, this.#router, logger, peer);
    // On plain TCP the stream is the accepted socket: the link handles its errors from now on.
    stream.off("error", ignoreError);
    this.#links.set(stream, link);
    stream.on("close", this.#forget);
    link.start(remainingMs);
    stream.resume();
  }
}
