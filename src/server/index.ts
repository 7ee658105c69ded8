// Front door of src/server: TCP listeners and the shared connection limit.

export { ConnectionCounter } from "./connection-slots.ts";
export { Listener, type ListenerAddress, type ListenerOptions } from "./listener.ts";
