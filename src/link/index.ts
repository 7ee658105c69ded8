// Front door of src/link: one connection's life. The server imports only this file.

export type { AuthExchange, AuthMethod, AuthStep } from "./auth-method.ts";
export { Link } from "./link.ts";
export type {
  AccessCheck,
  ClientIdentity,
  ConnectionSlots,
  LinkOptions,
  PeerInfo,
} from "./options.ts";
export { maxIncomingPacketBytes, NO_PEER_INFO } from "./options.ts";
