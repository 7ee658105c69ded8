// What a packet handler may use of its link. link.ts implements it; the
// handlers in handlers/ receive it, so they never see the socket.

import type { Logger } from "../log.ts";
import type { AuthPacket, MqttPacket, ProtocolVersion } from "../protocol/index.ts";
import type { CommitWaiter, Router, Session, SessionLink } from "../router/index.ts";
import type { AuthExchange, AuthMethod } from "./auth-method.ts";
import type { ClientIdentity, LinkOptions, PeerInfo } from "./options.ts";
import type { InboundAliases } from "./topic-aliases.ts";

/** What the client's MQTT 5 CONNECT asked of the broker (3.1.1: no limits). */
export interface ClientLimits {
  /** The client's Maximum Packet Size in bytes; Infinity when it set none. */
  maxPacketBytes: number;
  /**
   * The aliases the broker may use towards the client: the client's Topic
   * Alias Maximum, at most the listener's topic_alias_max.
   */
  topicAliasMax: number;
  /**
   * Request Problem Information; false: no reason string or user property
   * on any packet but PUBLISH, CONNACK and DISCONNECT ([MQTT-3.1.2-29]).
   */
  problemInformation: boolean;
}

/** The enhanced authentication a connection was accepted with (re-authentication uses it). */
export interface AuthState {
  method: AuthMethod;
  username: string;
  /** The re-authentication in progress, if any. */
  exchange: AuthExchange | undefined;
  /** True while a step is being checked (the client must wait for its answer). */
  busy: boolean;
}

export interface LinkContext extends SessionLink {
  readonly router: Router;
  readonly options: LinkOptions;
  /** What the server knew of the peer (its client certificate). */
  readonly peer: PeerInfo;
  readonly logger: Logger;
  /** The protocol version of the client (the listener's until CONNECT is parsed). */
  readonly version: ProtocolVersion;
  /** The session; only valid once CONNECT succeeded (handlers after CONNECT). */
  readonly session: Session;
  /** True until the link starts closing. */
  readonly open: boolean;
  send(packet: MqttPacket): void;
  /** Reserves an acknowledgement's place in line ([MQTT-4.6.0-2..4]); see ack-queue.ts. */
  reserveAck(): (packet: MqttPacket | undefined) => void;
  /** Encode answers in the client's protocol version from now on (set from CONNECT). */
  adoptVersion(version: ProtocolVersion): void;
  /**
   * Keep answers within the client's limits from now on (set from CONNECT),
   * so that a refusal's CONNACK leaves out its reason string when it must
   * ([MQTT-3.1.2-24]).
   */
  adoptLimits(limits: ClientLimits): void;
  /** Takes a connection slot (router.max_connections); false when none is left. */
  holdSlot(): boolean;
  /** Called by the CONNECT handler once the client is accepted. */
  accept(
    clientId: string,
    version: ProtocolVersion,
    keepAliveSec: number,
    session: Session,
    limits: ClientLimits,
  ): void;
  /**
   * During the CONNECT handshake: the client's next AUTH packet; undefined
   * when it sent DISCONNECT or went away. Anything else is a ProtocolError
   * ([MQTT-3.1.2-30]).
   */
  nextAuthPacket(): Promise<AuthPacket | undefined>;
  /** Inbound topic aliases of this connection (MQTT 5). */
  readonly inboundAliases: InboundAliases;
  /** Set when the client authenticated with an enhanced authentication method. */
  auth: AuthState | undefined;
  /** Normal DISCONNECT received: close without publishing the will unless asked to. */
  closeGracefully(publishWill: boolean): void;
  /** QoS 1/2 publishes received and not yet acknowledged (MQTT 5 receive maximum). */
  inboundUnacked: number;
  /** Who the client is for authorization; set by the CONNECT handler. */
  identity: ClientIdentity | undefined;
  /** The waiter of every QoS 0 publish of this link: nothing to do on commit, the link closes on failure. */
  readonly qos0Waiter: CommitWaiter;
  /** A handler's work failed after it returned: answered as a thrown error would be. */
  handlerFailed(error: unknown): void;
}
