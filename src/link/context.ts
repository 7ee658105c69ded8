// What a packet handler may use of its link. link.ts implements it; the
// handlers in handlers/ receive it, so they never see the socket.

import type { Logger } from "../log.ts";
import type { MqttPacket, ProtocolVersion } from "../protocol/index.ts";
import type { Router, Session, SessionLink } from "../router/index.ts";
import type { LinkOptions } from "./options.ts";

export interface LinkContext extends SessionLink {
  readonly router: Router;
  readonly options: LinkOptions;
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
  /** Takes a connection slot (router.max_connections); false when none is left. */
  holdSlot(): boolean;
  /** Called by the CONNECT handler once the client is accepted. */
  accept(clientId: string, version: ProtocolVersion, keepAliveSec: number, session: Session): void;
  /** Normal DISCONNECT received: close without publishing the will unless asked to. */
  closeGracefully(publishWill: boolean): void;
  /** QoS 1/2 publishes received and not yet acknowledged (MQTT 5 receive maximum). */
  inboundUnacked: number;
}
