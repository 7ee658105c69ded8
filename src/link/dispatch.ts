// Routes one decoded packet to its handler. Before CONNECT only CONNECT is
// allowed ([MQTT-3.1.0-1]); after it, a second CONNECT is a protocol error
// ([MQTT-3.1.0-2]); packets only a server sends are protocol errors too.
//
// Who calls it: link.ts, once per packet. Handlers may return a promise (a
// PUBLISH waits for its commit); link.ts handles its rejection.

import { type MqttPacket, ProtocolError } from "../protocol/index.ts";
import type { LinkContext } from "./context.ts";
import { handlePuback, handlePubcomp, handlePubrec } from "./handlers/acks.ts";
import { handleAuth } from "./handlers/auth.ts";
import { handleConnect } from "./handlers/connect.ts";
import { handleDisconnect } from "./handlers/disconnect.ts";
import { handlePublish, handlePubrel } from "./handlers/publish.ts";
import { handleSubscribe, handleUnsubscribe } from "./handlers/subscribe.ts";

export function dispatch(
  link: LinkContext,
  packet: MqttPacket,
  connected: boolean,
): Promise<void> | undefined {
  if (!connected) {
    if (packet.cmd !== "connect") {
      throw new ProtocolError("ProtocolError", `${packet.cmd} before CONNECT`);
    }
    return handleConnect(link, packet);
  }
  switch (packet.cmd) {
    case "connect":
      throw new ProtocolError("ProtocolError", "second CONNECT");
    case "publish":
      return handlePublish(link, packet);
    case "pubrel":
      return handlePubrel(link, packet.packetId);
    case "puback":
      handlePuback(link, packet.packetId);
      return undefined;
    case "pubrec":
      return handlePubrec(link, packet.packetId, packet.reasonCode);
    case "pubcomp":
      handlePubcomp(link, packet.packetId);
      return undefined;
    case "subscribe":
      return handleSubscribe(link, packet);
    case "unsubscribe":
      return handleUnsubscribe(link, packet);
    case "pingreq":
      link.send({ cmd: "pingresp" });
      return undefined;
    case "disconnect":
      handleDisconnect(link, packet);
      return undefined;
    case "auth":
      return handleAuth(link, packet);
    case "connack":
    case "suback":
    case "unsuback":
    case "pingresp":
      throw new ProtocolError("ProtocolError", `${packet.cmd} sent to a server`);
    default:
      return assertNever(packet);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected packet ${JSON.stringify(value)}`);
}
