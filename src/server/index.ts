// Front door of src/server: TCP listeners, the shared connection limit and
// the authenticator built from a listener's auth table.

export { type Authenticate, createAuthenticator } from "./authenticator.ts";
export { ConnectionCounter } from "./connection-slots.ts";
export { Listener, type ListenerAddress, type ListenerOptions } from "./listener.ts";
