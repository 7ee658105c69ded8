// Acknowledgements from the client for messages the broker sent: PUBACK
// (QoS 1 done), PUBREC (QoS 2: answer PUBREL), PUBCOMP (QoS 2 done).
// Who calls it: dispatch.ts. The router owns the inflight window.

import { isFailure, ReasonCode } from "../../protocol/index.ts";
import type { LinkContext } from "../context.ts";

export function handlePuback(link: LinkContext, packetId: number | undefined): void {
  if (packetId === undefined) return;
  if (!link.router.puback(link.session, packetId)) {
    link.logger.debug(
      { event: "packet.unknown_id", packet: "puback", packet_id: packetId },
      "PUBACK for an unknown packet id",
    );
  }
}

export async function handlePubrec(
  link: LinkContext,
  packetId: number | undefined,
  reasonCode: number | undefined,
): Promise<void> {
  if (packetId === undefined) return;
  const refused = link.version === 5 && reasonCode !== undefined && isFailure(reasonCode);
  // [MQTT-4.6.0-3] PUBRELs leave in the order of the PUBRECs.
  const ack = link.reserveAck();
  let known: boolean;
  try {
    known = await link.router.pubrec(link.session, packetId, refused);
  } catch (error) {
    ack(undefined);
    throw error;
  }
  if (refused) {
    ack(undefined); // [MQTT-4.3.3-4] no PUBREL after a failed PUBREC
    return;
  }
  // Spec 4.3.3: answer PUBREC with PUBREL; v5 says when the id was unknown.
  if (link.version === 5 && !known) {
    ack({
      cmd: "pubrel",
      packetId,
      reasonCode: ReasonCode.PacketIdentifierNotFound,
      properties: { reasonString: "no QoS 2 message with this packet identifier is in flight" },
    });
  } else {
    ack({ cmd: "pubrel", packetId });
  }
}

export function handlePubcomp(link: LinkContext, packetId: number | undefined): void {
  if (packetId === undefined) return;
  if (!link.router.pubcomp(link.session, packetId)) {
    link.logger.debug(
      { event: "packet.unknown_id", packet: "pubcomp", packet_id: packetId },
      "PUBCOMP for an unknown packet id",
    );
  }
}
