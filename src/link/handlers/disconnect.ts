// DISCONNECT from the client: the will is discarded ([MQTT-3.14.4-3]) unless a
// v5 client asks for it with reason code 0x04; the server closes the
// connection ([MQTT-3.14.4-1]).
// Who calls it: dispatch.ts.

import { type DisconnectPacket, ProtocolError, ReasonCode } from "../../protocol/index.ts";
import type { LinkContext } from "../context.ts";

export function handleDisconnect(link: LinkContext, packet: DisconnectPacket): void {
  if (link.version === 5) {
    const expiry = packet.properties?.sessionExpiryInterval;
    if (expiry !== undefined) {
      const session = link.session;
      // [MQTT-3.14.2-2] A session that had expiry 0 must not be given one at DISCONNECT.
      if (!session.persistent && expiry > 0) {
        throw new ProtocolError("ProtocolError", "session expiry set at DISCONNECT");
      }
      session.expiryIntervalSec = expiry;
      session.persistent = expiry > 0;
    }
  }
  const withWill = link.version === 5 && packet.reasonCode === ReasonCode.DisconnectWithWillMessage;
  link.closeGracefully(withWill);
}
