// Authorization at the link: asks the listener's AccessCheck (the
// `[authorization]` rules, built by broker.ts) whether this client may
// publish to a topic or subscribe to a filter, and logs each refusal. The
// handlers decide what a refusal looks like on the wire (CONFIG.md,
// "[authorization]"): a refused PUBLISH is dropped (v5 QoS 1/2: 0x87 in the
// ack), a refused filter gets 0x80 in SUBACK (v5 0x87 with reveal_reason),
// a refused will refuses the CONNECT (v5 0x87, 3.1.1 0x05).
//
// Who calls it: handlers/connect.ts, handlers/publish.ts, handlers/subscribe.ts.

import type { ConnectPacket } from "../protocol/index.ts";
import type { LinkContext } from "./context.ts";
import type { ClientIdentity } from "./options.ts";

/**
 * The identity rules see: the client id, and as user name the verified client
 * certificate's identity when there is one, else the user name an enhanced
 * authentication (SCRAM) proved, else the CONNECT's user name.
 */
export function identityOf(
  link: LinkContext,
  clientId: string,
  packet: ConnectPacket,
): ClientIdentity {
  const certIdentity = link.peer.certIdentity?.();
  return { clientId, username: certIdentity ?? link.auth?.username ?? packet.username };
}

/** Whether the client may publish to `topic` (a valid topic name); logs a refusal. */
export function mayPublish(link: LinkContext, topic: string, what: "publish" | "will"): boolean {
  const access = link.options.access;
  if (access === undefined) return true;
  // The identity is set at CONNECT, before any PUBLISH; without it, refuse.
  if (link.identity !== undefined && access.allows("publish", topic, link.identity)) return true;
  link.logger.warn(
    {
      event: "access.denied",
      action: what,
      topic,
      user: link.identity?.username,
      // A will is refused before the connection is accepted, when the logger has no client id yet.
      ...(what === "will" ? { client_id: link.identity?.clientId } : {}),
    },
    `${what} not authorized`,
  );
  return false;
}

/** Whether the client may subscribe to `filter` (a valid filter); logs a refusal. */
export function maySubscribe(link: LinkContext, filter: string): boolean {
  const access = link.options.access;
  if (access === undefined) return true;
  if (link.identity !== undefined && access.allows("subscribe", filter, link.identity)) return true;
  link.logger.warn(
    { event: "access.denied", action: "subscribe", filter, user: link.identity?.username },
    "subscription not authorized",
  );
  return false;
}
