// One TCP listener (`[v4.N]` or `[v5.N]`): accepts sockets, paces accepts by
// `next_connection_delay_ms` (rumqttd sleeps that long after each accept; here
// sockets wait, paused, in a bounded queue), and hands each socket to a new
// Link. It tracks its links so that a shutdown can close them.
//
// Who calls it: broker.ts. It never parses MQTT; the link does.

import { createServer, type Server, type Socket } from "node:net";
import { Link, type LinkOptions } from "../link/index.ts";
import type { Logger } from "../log.ts";
import type { Router } from "../router/index.ts";

/** Sockets waiting for their turn under accept pacing; beyond this they are dropped. */
export const MAX_PENDING_ACCEPTS = 1024;

export interface ListenerOptions {
  name: string;
  host: string;
  port: number;
  nextConnectionDelayMs: number;
  link: LinkOptions;
}

export interface ListenerAddress {
  name: string;
  kind: "v4" | "v5";
  host: string;
  port: number;
}

/** How long a shutdown waits for clients to read their DISCONNECT and close. */
export const SHUTDOWN_GRACE_MS = 500;

/** A process-wide connection number for the `conn` log field. */
let nextConn = 1;

export class Listener {
  readonly #options: ListenerOptions;
  readonly #router: Router;
  readonly #logger: Logger;
  readonly #links = new Set<Link>();
  readonly #sockets = new Set<Socket>();
  readonly #pending: Socket[] = [];
  #server: Server | undefined;
  #pacingTimer: NodeJS.Timeout | undefined;
  #lastAcceptMs = 0;
  #serverClosed: Promise<void> = Promise.resolve();

  constructor(options: ListenerOptions, router: Router, logger: Logger) {
    this.#options = options;
    this.#router = router;
    this.#logger = logger.child({ listener: options.name });
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
          kind: this.#options.link.kind,
          host: this.#options.host,
          port,
        });
      });
    });
  }

  /**
   * Stops accepting. Existing links stay until closeLinks(), which also waits
   * for the server's 'close' (Node emits it once every connection has ended).
   */
  stopAccepting(): void {
    clearTimeout(this.#pacingTimer);
    for (const socket of this.#pending.splice(0)) socket.destroy();
    const server = this.#server;
    if (server === undefined || !server.listening) return;
    this.#serverClosed = new Promise((resolve) => server.close(() => resolve()));
  }

  /**
   * Closes every connection of this listener, each after it has drained
   * (Link.drain: acknowledgements in both directions, until `drainDeadlineMs`);
   * v5 clients get DISCONNECT 0x8B. Waits for the sockets to close,
   * destroying those still open SHUTDOWN_GRACE_MS after the last drain.
   */
  async closeLinks(drainDeadlineMs: number): Promise<void> {
    const closed = [...this.#sockets].map(
      (socket) => new Promise<void>((resolve) => socket.once("close", () => resolve())),
    );
    await Promise.all([...this.#links].map((link) => link.drain(drainDeadlineMs)));
    const timer = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
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
    socket.on("error", () => undefined); // a reset while queued must not crash the broker
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
      this.#startLink(this.#pending.shift() as Socket);
    }
  }

  #startLink(socket: Socket): void {
    if (socket.destroyed) return;
    const conn = nextConn++;
    const logger = this.#logger.child({
      conn,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    logger.debug({ event: "conn.accepted" }, "socket accepted");
    const link = new Link(socket, this.#options.link, this.#router, logger);
    this.#links.add(link);
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#links.delete(link);
      this.#sockets.delete(socket);
    });
    link.start();
    socket.resume();
  }
}
