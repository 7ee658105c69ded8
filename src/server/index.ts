// Front door of src/server: TCP listeners, the shared connection limit, the
// authenticator built from a listener's auth table and the SCRAM-SHA-256
// enhanced authentication method built from the same table.

export { type Authenticate, createAuthenticator } from "./authenticator.ts";
export { ConnectionCounter } from "./connection-slots.ts";
export { Listener, type ListenerAddress, type ListenerOptions } from "./listener.ts";
export { createScramMethod, SCRAM_SHA_256 } from "./scram.ts";
