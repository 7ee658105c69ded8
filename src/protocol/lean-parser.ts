// Memory of one connection's mqtt-packet parser, trimmed: an idle connection
// keeps its parser for as long as it stays connected, so what the parser
// holds is paid once per connection (thousands of them).
// - mqtt-packet 9 buffers input in a `bl` BufferListStream, a full Duplex
//   stream (about 700 bytes with its states and listener arrays) of which
//   the parser only uses the BufferList methods; it gets a plain BufferList,
//   mqtt-packet's own copy of `bl`, which has those same methods.
// - After a CONNECT the parser keeps the whole CONNECT packet as its
//   `settings` (client id, credentials, will payload) only to read
//   `protocolVersion` and `bridgeMode` from it later; it keeps those two.
//
// - idleVersion tells the codec when the parser holds nothing (no bytes, no
//   packet begun), so that whole packets may take the fast path
//   (fast-path.ts) without overtaking bytes the parser still has.
//
// Who calls it: codec.ts, when it makes a decoder, for each chunk, and after
// it decodes a CONNECT. Relies on mqtt-packet 9.0.2's internals (`_list`,
// `settings`, `_stateCounter`), which the codec tests exercise.

import { createRequire } from "node:module";

/** The parts of mqtt-packet 9's parser that this file relies on. */
interface ParserInternals {
  _list: { length: number };
  settings: { protocolVersion?: number; bridgeMode?: boolean };
  /** 0 while waiting for the first byte of a packet. */
  _stateCounter: number;
}

const requireHere = createRequire(import.meta.url);
/** `bl` as mqtt-packet resolves it, so that both use the same copy. */
const { BufferList } = createRequire(requireHere.resolve("mqtt-packet"))("bl") as {
  BufferList: new () => { length: number };
};

/** Gives a fresh parser a plain BufferList instead of a BufferListStream. */
export function useLeanBuffer(parser: unknown): void {
  const internals = parser as ParserInternals;
  if (internals._list === undefined || internals._list.length !== 0) {
    throw new Error("mqtt-packet parser has no empty _list");
  }
  internals._list = new BufferList();
}

/** After a CONNECT: the parser keeps only what it reads from it later. */
export function forgetConnect(parser: unknown): void {
  const internals = parser as ParserInternals;
  const { protocolVersion, bridgeMode } = internals.settings;
  internals.settings =
    bridgeMode === undefined ? { protocolVersion } : { protocolVersion, bridgeMode };
}

/**
 * The protocol version the parser decodes, when it is known (from CONNECT,
 * or given to a client's decoder) and the parser holds no part of a packet;
 * otherwise undefined.
 */
export function idleVersion(parser: unknown): 3 | 4 | 5 | undefined {
  const internals = parser as ParserInternals;
  if (internals._stateCounter !== 0 || internals._list.length !== 0) return undefined;
  const version = internals.settings.protocolVersion;
  return version === 3 || version === 4 || version === 5 ? version : undefined;
}
