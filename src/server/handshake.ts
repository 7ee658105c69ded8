// Turns an accepted TCP socket into the byte stream a Link reads: as it is
// (plain TCP), after a TLS handshake (`tls` table), after a WebSocket upgrade
// (`[ws.N]`), or both (WSS). TLS runs in a tls.Server (or the https.Server
// under a WSS listener) that never listens itself: the listener hands it each
// socket it accepted, so that accept pacing and connection_timeout_ms cover
// the handshakes too (listener.ts keeps that deadline). Node's server does
// the client-certificate verification when `capath` is set.
//
// WebSocket decisions (the MQTT spec, chapter 6, and what mosquitto and EMQX do):
// - any request path is accepted (the URI has no meaning for MQTT, spec 6.0);
// - subprotocol "mqtt" is selected when offered ([MQTT-6.0.0-4]), else
//   "mqttv3.1" (old MQTT 3.1 clients); a request offering only other
//   subprotocols is refused with HTTP 400; a request offering none is
//   accepted (browsers' and tools' plain WebSockets; mosquitto and EMQX's
//   default accept it too);
// - a message larger than the listener's largest packet closes the
//   connection (ws's maxPayload, close code 1009); no compression.
//
// Who calls it: listener.ts. Never parses MQTT.

import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import { NO_PEER_INFO, type PeerInfo } from "../link/index.ts";
import type { Logger } from "../log.ts";
import type { ServerTls } from "./tls-context.ts";
import { webSocketStream } from "./websocket-stream.ts";

/** WebSocket subprotocols accepted, in order of preference. */
export const WEBSOCKET_SUBPROTOCOLS = ["mqtt", "mqttv3.1"] as const;

export interface HandshakeOptions {
  transport: "tcp" | "ws";
  tls: ServerTls | undefined;
  /** The largest WebSocket message accepted (the listener's largest packet). */
  maxMessageBytes: number;
  logger: Logger;
  /** A stream is ready for a link; `key` names its TCP connection (see connectionKey). */
  onStream(stream: Duplex, key: string, peer: PeerInfo): void;
}

/** `address:port` of the peer: unique among one listener's open connections. */
export function connectionKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

export class Handshakes {
  readonly #options: HandshakeOptions;
  /** The server a socket is handed to; undefined for plain TCP. */
  readonly #server: Server | ReturnType<typeof createTlsServer> | undefined;

  constructor(options: HandshakeOptions) {
    this.#options = options;
    this.#server = options.transport === "ws" ? this.#webSocketServer() : this.#tlsServer();
  }

  /** Starts the handshakes of an accepted socket; onStream follows when they succeed. */
  /** Plain TCP: no TLS or WebSocket handshake comes before MQTT. */
  get plain(): boolean {
    return this.#server === undefined;
  }

  admit(socket: Socket): void {
    if (this.#server === undefined) {
      this.#options.onStream(socket, connectionKey(socket), NO_PEER_INFO);
      return;
    }
    this.#server.emit("connection", socket);
    socket.resume();
  }

  #tlsServer(): ReturnType<typeof createTlsServer> | undefined {
    const tls = this.#options.tls;
    if (tls === undefined) return undefined;
    const server = createTlsServer(tls.options);
    server.on("secureConnection", (socket: TLSSocket) => {
      this.#options.onStream(socket, connectionKey(socket), this.#peerOf(socket));
    });
    server.on("tlsClientError", (error, socket) => this.#onTlsError(error, socket));
    return server;
  }

  #webSocketServer(): Server {
    const tls = this.#options.tls;
    const server = tls === undefined ? createHttpServer() : createHttpsServer(tls.options);
    if (tls !== undefined) {
      server.on("tlsClientError", (error: Error, socket: TLSSocket) =>
        this.#onTlsError(error, socket),
      );
    }
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => WEBSOCKET_SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
      verifyClient: (info, callback) => {
        if (offersKnownSubprotocol(info.req)) callback(true);
        else {
          this.#options.logger.warn(
            { event: "conn.refused", reason: "websocket_subprotocol", remote: remoteOf(info.req) },
            "no MQTT WebSocket subprotocol offered",
          );
          callback(false, 400, "offer the WebSocket subprotocol mqtt");
        }
      },
    });
    server.on("request", (_req, res) => {
      res.writeHead(426, { connection: "close", upgrade: "websocket" });
      res.end("MQTT over WebSocket: upgrade with subprotocol mqtt\n");
    });
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = webSocketStream(ws, () =>
          this.#options.logger.warn(
            { event: "conn.closed", reason: "websocket_text_frame", remote: remoteOf(req) },
            "text frame received: MQTT needs binary frames",
          ),
        );
        const peer = tls === undefined ? NO_PEER_INFO : this.#peerOf(socket as TLSSocket);
        this.#options.onStream(stream, connectionKey(socket), peer);
      });
    });
    return server;
  }

  /** The client certificate's identity, on a listener that verifies client certificates. */
  #peerOf(socket: TLSSocket): PeerInfo {
    if (this.#options.tls?.clientCertificates !== true) return NO_PEER_INFO;
    return { certIdentity: () => certificateIdentity(socket) };
  }

  #onTlsError(error: Error & { code?: string }, socket: TLSSocket): void {
    this.#options.logger.warn(
      {
        event: "conn.refused",
        reason: "tls_handshake",
        remote: connectionKey(socket),
        err: error.code ?? error.message,
      },
      "TLS handshake failed",
    );
    socket.destroy();
  }
}

/** The subject CN of a verified peer certificate (its whole subject when it has no CN). */
function certificateIdentity(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const subject = socket.getPeerCertificate().subject as
    | Record<string, string | string[]>
    | undefined;
  if (subject === undefined) return undefined;
  const cn = subject.CN;
  if (typeof cn === "string") return cn;
  if (Array.isArray(cn) && typeof cn[0] === "string") return cn[0];
  const parts = Object.entries(subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v[0] : v}`);
  return parts.length > 0 ? parts.join(",") : undefined;
}

/** True when the request offers no subprotocol or one of WEBSOCKET_SUBPROTOCOLS. */
function offersKnownSubprotocol(req: IncomingMessage): boolean {
  const header = req.headers["sec-websocket-protocol"];
  if (header === undefined) return true;
  const offered = header.split(",").map((p) => p.trim());
  return offered.some((p) => (WEBSOCKET_SUBPROTOCOLS as readonly string[]).includes(p));
}

function remoteOf(req: IncomingMessage): string {
  return connectionKey(req.socket as Socket);
}
