// Front door of src/server: listeners (TCP, TLS, WebSocket), the shared
// connection limit, the authenticator built from a listener's auth table, the
// SCRAM-SHA-256 enhanced authentication method built from the same table, and
// the TLS material of a listener's tls table.

export { type Authenticate, createAuthenticator } from "./authenticator.ts";
export { ConnectionCounter } from "./connection-slots.ts";
export { WEBSOCKET_SUBPROTOCOLS } from "./handshake.ts";
export {
  Listener,
  type ListenerAddress,
  type ListenerKind,
  type ListenerOptions,
} from "./listener.ts";
export { createScramMethod, SCRAM_SHA_256 } from "./scram.ts";
export { loadTls, type ServerTls, type TlsFiles, type TlsProblem } from "./tls-context.ts";
