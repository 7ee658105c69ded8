// The CONNECT handshake: protocol version for this listener, client id rules,
// the will, authentication (asynchronous: hashes are checked off the event
// loop, an enhanced authentication exchanges AUTH packets, handlers/auth.ts;
// link.ts holds later packets until it ends), the will's authorization (a
// refused will refuses the connection: v5 0x87, 3.1.1 0x05), the connection
// limit, keep-alive, the client's MQTT 5 limits (receive maximum, maximum
// packet size, topic alias maximum, problem information), then the session
// (take-over, session present) and the CONNACK, which advertises what the
// server supports, made to fit the client's Maximum Packet Size
// (connack-fit.ts; when nothing fits, the connection is closed without one).
// Every refusal is a thrown ProtocolError; answer-error.ts turns it into the
// CONNACK the client's version understands.
// Who calls it: dispatch.ts, for the first packet of a link.

import { randomUUID } from "node:crypto";
import {
  type ConnackPacket,
  ConnackReturnCodeV3,
  type ConnectPacket,
  ProtocolError,
  type ProtocolVersion,
  ReasonCode,
  topicNameProblem,
} from "../../protocol/index.ts";
import type { Will } from "../../router/index.ts";
import { identityOf, mayPublish } from "../access.ts";
import { fitConnack } from "../connack-fit.ts";
import type { ClientLimits, LinkContext } from "../context.ts";
import { maxIncomingPacketBytes } from "../options.ts";
import { authenticateConnect } from "./auth.ts";
import { forwardedProperties } from "./publish.ts";

/** The prefix of client ids the broker assigns ([MQTT-3.1.3-6], v5 3.2.2.3.7). */
const ASSIGNED_ID_PREFIX = "auto-";
/** The largest Receive Maximum, and what an absent one means (spec 3.1.2.11.3). */
const MAX_RECEIVE_MAXIMUM = 65_535;

export async function handleConnect(link: LinkContext, packet: ConnectPacket): Promise<void> {
  const version = (packet.protocolVersion ?? 4) as ProtocolVersion;
  // Refusals are encoded in the version the client speaks, so that it can read them.
  link.adoptVersion(version);
  checkVersion(link, version);
  checkFlags(packet, version);
  const limits = clientLimits(link, packet, version);
  link.adoptLimits(limits);
  const { clientId, assigned } = checkClientId(link, packet, version);
  const will = willOf(packet, version, link.options.maxPayloadBytes, clientId);
  const method = version === 5 ? packet.properties?.authenticationMethod : undefined;
  let authData: Buffer | undefined;
  if (method === undefined) {
    await checkCredentials(link, packet);
  } else {
    const result = await authenticateConnect(link, packet, method);
    if (result === undefined) return;
    authData = result.data;
  }
  // The connection may have gone while the password was checked.
  if (!link.open) return;
  link.identity = identityOf(link, clientId, packet);
  if (will !== undefined && !mayPublish(link, will.message.topic, "will")) {
    throw new ProtocolError("NotAuthorized", "will topic not authorized");
  }
  if (!link.holdSlot()) {
    throw new ProtocolError("QuotaExceeded", "router.max_connections reached");
  }

  const { keepAliveSec, serverKeepAlive } = keepAliveOf(link, packet, version);
  const connack = fittedConnack(
    link,
    connackFor(link, version, { assigned, clientId, serverKeepAlive, method, authData }),
    limits.maxPacketBytes,
    clientId,
  );
  if (connack === undefined) return;

  const clean = packet.clean ?? true;
  const expiryIntervalSec = version === 5 ? (packet.properties?.sessionExpiryInterval ?? 0) : 0;
  const { session, sessionPresent } = link.router.connect({
    clientId,
    cleanStart: clean,
    persistent: version === 5 ? expiryIntervalSec > 0 : !clean,
    expiryIntervalSec,
    will,
    // [MQTT-3.3.4-9] No more unacknowledged QoS 1/2 messages towards the client than its
    // Receive Maximum.
    maxInflight: Math.min(
      link.options.maxInflightCount,
      version === 5 ? (packet.properties?.receiveMaximum ?? MAX_RECEIVE_MAXIMUM) : Infinity,
    ),
    link,
    logger: link.logger,
  });
  link.accept(clientId, version, keepAliveSec, session, limits);
  link.send({ ...connack, sessionPresent });
  link.logger.info(
    {
      event: "conn.accepted",
      session_present: sessionPresent,
      version,
      keep_alive_sec: keepAliveSec,
    },
    "client connected",
  );
  link.router.resume(session);
}

/** MQTT 5: a keep-alive of 0 or above max_keep_alive becomes max_keep_alive (Server Keep Alive). */
function keepAliveOf(
  link: LinkContext,
  packet: ConnectPacket,
  version: ProtocolVersion,
): { keepAliveSec: number; serverKeepAlive: number | undefined } {
  const keepAliveSec = packet.keepalive ?? 0;
  const maxKeepAlive = link.options.maxKeepAliveSec;
  if (version === 5 && (keepAliveSec === 0 || keepAliveSec > maxKeepAlive)) {
    return { keepAliveSec: maxKeepAlive, serverKeepAlive: maxKeepAlive };
  }
  return { keepAliveSec, serverKeepAlive: undefined };
}

/**
 * The CONNACK within the client's Maximum Packet Size (connack-fit.ts); when
 * none fits, the connection is closed without one and undefined returned.
 */
function fittedConnack(
  link: LinkContext,
  connack: ConnackPacket,
  maxPacketBytes: number,
  clientId: string,
): ConnackPacket | undefined {
  if (link.version !== 5) return connack;
  const fitted = fitConnack(connack, maxPacketBytes);
  if (fitted.packet !== undefined) return fitted.packet;
  // [MQTT-3.1.2-24] No CONNACK the client could read: close before a session is taken or
  // made; the close releases the connection slot, as for any refused CONNECT.
  link.logger.warn(
    {
      event: "conn.refused",
      reason: "connack_too_large",
      client_id: clientId,
      bytes: fitted.bytes,
      max_bytes: maxPacketBytes,
    },
    "CONNACK larger than the client's maximum packet size: connection closed",
  );
  link.closeGracefully(false);
  return undefined;
}

/** The CONNACK of an accepted client, which advertises what the server supports. */
function connackFor(
  link: LinkContext,
  version: ProtocolVersion,
  got: {
    assigned: boolean;
    clientId: string;
    serverKeepAlive: number | undefined;
    method: string | undefined;
    authData: Buffer | undefined;
  },
): ConnackPacket {
  if (version !== 5) {
    return { cmd: "connack", sessionPresent: false, returnCode: ConnackReturnCodeV3.Accepted };
  }
  return {
    cmd: "connack",
    sessionPresent: false,
    reasonCode: ReasonCode.Success,
    properties: {
      // Maximum QoS is left out: absent means 2, and 2 may not be sent (spec 3.2.2.3.4).
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      receiveMaximum: link.options.receiveMaximum,
      topicAliasMaximum: link.options.topicAliasMax,
      maximumPacketSize: maxIncomingPacketBytes(link.options),
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      ...(got.assigned ? { assignedClientIdentifier: got.clientId } : {}),
      ...(got.serverKeepAlive === undefined ? {} : { serverKeepAlive: got.serverKeepAlive }),
      // [MQTT-4.12.0-5] The method of the exchange, and its last data.
      ...(got.method === undefined ? {} : { authenticationMethod: got.method }),
      ...(got.authData === undefined ? {} : { authenticationData: got.authData }),
    },
  };
}

function checkVersion(link: LinkContext, version: ProtocolVersion): void {
  // [MQTT-3.1.2-2] A protocol level the listener does not speak: "unsupported protocol version".
  const kind = link.options.kind;
  const ok = kind === "any" || (kind === "v5" ? version === 5 : version === 3 || version === 4);
  if (!ok) {
    throw new ProtocolError(
      "UnsupportedProtocolVersion",
      `protocol version ${version} on a ${link.options.kind} listener`,
    );
  }
}

/**
 * What the client's CONNECT asks of the broker's packets (spec 3.1.2.11).
 * Outbound topic aliases are bounded by the listener's topic_alias_max too:
 * each holds a topic for the life of the connection, so a client asking for
 * 65535 must not make the broker keep 65535 topics (STYLE rule 5). Fewer
 * than the client allows is always allowed ([MQTT-3.1.2-26]).
 */
function clientLimits(
  link: LinkContext,
  packet: ConnectPacket,
  version: ProtocolVersion,
): ClientLimits {
  const p = version === 5 ? packet.properties : undefined;
  return {
    maxPacketBytes: p?.maximumPacketSize ?? Number.POSITIVE_INFINITY,
    topicAliasMax: Math.min(p?.topicAliasMaximum ?? 0, link.options.topicAliasMax),
    problemInformation: p?.requestProblemInformation ?? true,
  };
}

function checkFlags(packet: ConnectPacket, version: ProtocolVersion): void {
  // [MQTT-3.1.2-14] Will QoS 3 is malformed.
  if (packet.will !== undefined && (packet.will.qos as number) === 3) {
    throw new ProtocolError("MalformedPacket", "will QoS 3");
  }
  const p = version === 5 ? packet.properties : undefined;
  // Spec 3.1.2.11: Receive Maximum 0, Maximum Packet Size 0, and Authentication Data
  // without an Authentication Method are protocol errors.
  if (p?.receiveMaximum === 0 || p?.maximumPacketSize === 0) {
    throw new ProtocolError("ProtocolError", "receive maximum or maximum packet size 0");
  }
  if (p?.authenticationData !== undefined && p.authenticationMethod === undefined) {
    throw new ProtocolError("ProtocolError", "authentication data without a method");
  }
  // [MQTT-3.1.2-22] In 3.1.1 a password needs a user name (MQTT 5 allows it alone).
  if (version !== 5 && packet.password !== undefined && packet.username === undefined) {
    throw new ProtocolError("MalformedPacket", "password without user name");
  }
}

function checkClientId(
  link: LinkContext,
  packet: ConnectPacket,
  version: ProtocolVersion,
): { clientId: string; assigned: boolean } {
  const clientId = packet.clientId ?? "";
  if (clientId.length > 0) {
    if (clientId.length > link.options.maxClientIdLen || clientId.includes("\u0000")) {
      throw new ProtocolError("ClientIdentifierNotValid", "client id too long or invalid");
    }
    return { clientId, assigned: false };
  }
  // MQTT 3.1 requires a client id of 1 to 23 characters.
  if (version === 3) throw new ProtocolError("ClientIdentifierNotValid", "empty client id (3.1)");
  // [MQTT-3.1.3-8] An empty client id with CleanSession 0 is refused with 0x02 (3.1.1).
  if (version === 4 && packet.clean === false) {
    throw new ProtocolError("ClientIdentifierNotValid", "empty client id without clean session");
  }
  // [MQTT-3.1.3-6] Otherwise the server assigns a unique id (v5 returns it in CONNACK).
  return { clientId: `${ASSIGNED_ID_PREFIX}${randomUUID()}`, assigned: true };
}

async function checkCredentials(link: LinkContext, packet: ConnectPacket): Promise<void> {
  const authenticate = link.options.authenticate;
  if (authenticate === undefined) return;
  // An auth table means anonymous clients are refused.
  if (packet.username === undefined) {
    throw new ProtocolError("NotAuthorized", "anonymous client on a listener with auth");
  }
  const ok = await authenticate(packet.username, packet.password ?? Buffer.alloc(0));
  if (!ok) {
    // The user name is logged, never the password.
    link.logger.warn(
      { event: "auth.failed", method: "password", user: packet.username },
      "bad user name or password",
    );
    throw new ProtocolError("BadUserNameOrPassword", "bad user name or password");
  }
}

/**
 * The will with its MQTT 5 Will Delay Interval and Message Expiry Interval
 * (the router publishes it: see router/will-timer.ts).
 */
function willOf(
  packet: ConnectPacket,
  version: ProtocolVersion,
  maxPayloadBytes: number,
  clientId: string,
): Will | undefined {
  const will = packet.will;
  if (will === undefined) return undefined;
  if (topicNameProblem(will.topic) !== undefined) {
    throw new ProtocolError("TopicNameInvalid", "invalid will topic");
  }
  const payload = Buffer.isBuffer(will.payload) ? will.payload : Buffer.from(will.payload);
  if (payload.length > maxPayloadBytes) {
    throw new ProtocolError("PacketTooLarge", "will payload larger than max_payload_size");
  }
  const properties =
    version === 5
      ? forwardedProperties(will.properties, packet.willUserPropertyList ?? [])
      : undefined;
  const v5 = version === 5 ? will.properties : undefined;
  return {
    message: {
      topic: will.topic,
      qos: will.qos ?? 0,
      retain: will.retain ?? false,
      payload,
      ...(properties === undefined ? {} : { properties }),
      expiresAtMs: null,
      publisherId: clientId,
    },
    delaySec: v5?.willDelayInterval ?? 0,
    expirySec: v5?.messageExpiryInterval,
  };
}
