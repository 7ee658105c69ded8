// The options of one link, set by the server from its listener's config.
// Defined here so that link/ depends on nothing above it.

import type { AuthMethod } from "./auth-method.ts";

export interface ConnectionSlots {
  /** Takes a slot for an accepted CONNECT; false when `router.max_connections` is reached. */
  tryAcquire(): boolean;
  release(): void;
}

/** Who a client is, for authorization: its client id and user name (or certificate identity). */
export interface ClientIdentity {
  clientId: string;
  username: string | undefined;
}

/**
 * The `[authorization]` decision, built by broker.ts (src/authz) and called by
 * the handlers of PUBLISH, SUBSCRIBE and CONNECT (the will).
 */
export interface AccessCheck {
  /** Whether `who` may publish to the topic `name`, or subscribe to the filter `name`. */
  allows(action: "publish" | "subscribe", name: string, who: ClientIdentity): boolean;
  /** MQTT 5: a refused subscription gets 0x87 "not authorized" instead of 0x80. */
  readonly revealReason: boolean;
}

/** What the server knows of one connection's peer before CONNECT. */
export interface PeerInfo {
  /**
   * The verified client certificate's identity (its subject's CN), read when
   * CONNECT arrives; undefined without a client certificate.
   */
  certIdentity?: () => string | undefined;
}

/** A peer the server knows nothing of before CONNECT (shared by all such links). */
export const NO_PEER_INFO: PeerInfo = Object.freeze({});

export interface LinkOptions {
  /** The listener's name, for logs. */
  listener: string;
  /**
   * Which protocol this listener speaks: "v4" (3.1.1 and 3.1), "v5", or "any"
   * (WebSocket listeners: the CONNECT tells).
   */
  kind: "v4" | "v5" | "any";
  /** Time allowed between accept and CONNECT. */
  connectionTimeoutMs: number;
  /** Largest PUBLISH payload accepted (bytes). */
  maxPayloadBytes: number;
  maxClientIdLen: number;
  /** Outgoing QoS 1/2 messages unacknowledged per client. */
  maxInflightCount: number;
  /**
   * Checks a CONNECT's user name and password (off the event loop for hashes);
   * absent means anonymous clients are allowed. Built by the server from `auth`.
   */
  authenticate: ((username: string, password: Buffer) => Promise<boolean>) | undefined;
  /** MQTT 5: the largest keep-alive accepted; 0 or more gets this as Server Keep Alive. */
  maxKeepAliveSec: number;
  /** MQTT 5: QoS 1/2 publishes a client may have unacknowledged towards the broker. */
  receiveMaximum: number;
  /**
   * MQTT 5: inbound topic aliases accepted per connection (0 = none),
   * advertised in CONNACK; also the most the broker uses towards a client.
   */
  topicAliasMax: number;
  /** MQTT 5 enhanced authentication methods by name (empty: a CONNECT naming one gets 0x8C). */
  authMethods: ReadonlyMap<string, AuthMethod>;
  slots: ConnectionSlots;
  /** The `[authorization]` rules; absent means everything is allowed. */
  access?: AccessCheck;
}

/** Room for a PUBLISH's topic, properties and header beyond its payload. */
const PACKET_OVERHEAD_BYTES = 128 * 1024;
/** MQTT's largest packet: a 268,435,455-byte remaining length and a 5-byte fixed header. */
const PROTOCOL_MAX_PACKET_BYTES = 268_435_460;

/**
 * The largest packet a listener accepts (fixed header included), advertised
 * to MQTT 5 clients as Maximum Packet Size ([MQTT-3.2.2-15]); anything larger
 * gets 0x95.
 */
export function maxIncomingPacketBytes(options: LinkOptions): number {
  return Math.min(options.maxPayloadBytes + PACKET_OVERHEAD_BYTES, PROTOCOL_MAX_PACKET_BYTES);
}
