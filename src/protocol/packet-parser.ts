// mqtt-packet's parser, as the codec needs it: a subclass of mqtt-packet 9's
// Parser that reports to one sink (the decoder) instead of emitting events,
// and that holds as little as it can, since an idle connection keeps its
// parser for as long as it stays connected (thousands of them):
// - every UTF-8 string field is checked on its raw bytes before mqtt-packet
//   decodes it leniently (bad bytes would become U+FFFD): the sink is told
//   of ill-formed UTF-8 ([MQTT-1.5.4-1]);
// - each user property (the only "string pair" property) is reported as it
//   is parsed, so that their wire order is known;
// - packets and errors go to the sink's methods; no listener closures;
// - the input is buffered in a plain `bl` BufferList (mqtt-packet's own copy)
//   rather than a BufferListStream, a whole Duplex stream of which the
//   parser uses only the BufferList methods;
// - after a CONNECT only its protocolVersion and bridgeMode are kept (the
//   parser would keep the whole packet, credentials and will payload included);
// - the table of states is shared by every parser.
// All of this lives on the subclass's prototype: nothing per connection but
// the parser itself, and nothing changed in mqtt-packet for anyone else.
//
// Who calls it: codec.ts only. Relies on mqtt-packet 9.0.2's internals
// (`_parseString`, `_parseStringPair`, `_list`, `_pos`, `_states`,
// `_stateCounter`, `settings`, `packet`, `_resetState`); the exact version is
// pinned, and test/protocol/codec.test.ts and packet-templates.test.ts decode
// through it.

import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";
import mqttPacket from "mqtt-packet";
import type { UserProperty } from "./user-properties.ts";

/** What the parser is set up with: the protocol version and 3.1.1 bridge mode. */
export interface ParserSettings {
  protocolVersion?: number;
  bridgeMode?: boolean;
}

/** What the parser reports to. */
export interface ParserSink {
  packet(packet: mqttPacket.Packet): void;
  error(error: Error): void;
  invalidUtf8(): void;
  userProperty(pair: UserProperty): void;
}

interface BufferListLike {
  length: number;
  slice(start: number, end: number): Buffer;
}

/** The parts of mqtt-packet 9's Parser this file relies on. */
interface ParserInternals {
  _list: BufferListLike;
  _pos: number;
  _states: string[];
  _stateCounter: number;
  settings: ParserSettings;
  packet: { length: number };
  parser(options: object): unknown;
  parse(buf: Buffer): number;
  _parseString(...args: unknown[]): string | null;
  _parseStringPair(...args: unknown[]): { name: string | null; value: string | null };
  _resetState(): void;
}

type ParserClass = new () => ParserInternals;

const requireHere = createRequire(import.meta.url);
/** `bl` as mqtt-packet resolves it, so that both use the same copy. */
const { BufferList } = createRequire(requireHere.resolve("mqtt-packet"))("bl") as {
  BufferList: new () => BufferListLike;
};

const Parser = Object.getPrototypeOf(mqttPacket.parser({})).constructor as ParserClass;
for (const method of ["_parseString", "_parseStringPair", "_resetState", "parse"] as const) {
  if (typeof Parser.prototype[method] !== "function") {
    throw new Error(`mqtt-packet's Parser has no ${method}: not the pinned 9.0.2`);
  }
}

let sharedStates: string[] | undefined;

export class PacketParser extends Parser {
  sink: ParserSink;

  constructor(sink: ParserSink, settings: ParserSettings) {
    super();
    this.sink = sink;
    this.parser({ ...settings });
    sharedStates ??= Object.freeze([...this._states]) as string[];
    this._states = sharedStates;
  }

  override _resetState(): void {
    super._resetState();
    this._list = new BufferList();
  }

  override _parseString(...args: unknown[]): string | null {
    const start = this._pos;
    const result = super._parseString(...args);
    if (result !== null && !isUtf8(this._list.slice(start + 2, this._pos))) {
      this.sink.invalidUtf8();
    }
    return result;
  }

  override _parseStringPair(...args: unknown[]): { name: string | null; value: string | null } {
    const result = super._parseStringPair(...args);
    if (result.name !== null && result.value !== null) {
      this.sink.userProperty([result.name, result.value]);
    }
    return result;
  }

  /** mqtt-packet emits 'packet' and 'error'; they go straight to the sink. */
  emit(event: string, arg: unknown): boolean {
    if (event === "packet") this.sink.packet(arg as mqttPacket.Packet);
    else if (event === "error") this.sink.error(arg as Error);
    return true;
  }

  /** After a CONNECT: keep only what later packets are parsed with. */
  forgetConnect(): void {
    const { protocolVersion, bridgeMode } = this.settings;
    this.settings =
      bridgeMode === undefined ? { protocolVersion } : { protocolVersion, bridgeMode };
  }

  /**
   * The protocol version, when it is known (from CONNECT, or given to a
   * client's decoder) and no part of a packet is buffered; else undefined.
   */
  get idleVersion(): 3 | 4 | 5 | undefined {
    if (this._stateCounter !== 0 || this._list.length !== 0) return undefined;
    const version = this.settings.protocolVersion;
    return version === 3 || version === 4 || version === 5 ? version : undefined;
  }

  /** The announced length of a packet being received, or -1. */
  get pendingLength(): number {
    return this.packet?.length ?? -1;
  }
}
