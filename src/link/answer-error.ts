// The one place where a peer's mistake becomes an answer on the wire
// (STYLE.md, "bad input gets its answer in one place"):
// - before a successful CONNACK: a CONNACK carrying the reason code (MQTT 5),
//   or the 3.1.1 return code it maps to when 3.1.1 has one; otherwise the
//   connection is just closed;
// - after it: MQTT 5 gets a DISCONNECT with the reason code, then the close;
//   MQTT 3.1.1 gets the close ([MQTT-4.8.0-1]).
// MQTT 5 forbids a DISCONNECT before CONNACK ([MQTT-3.14.0-1]), so a packet
// before CONNECT on a v5 listener is answered with a CONNACK, not a DISCONNECT.
// An MQTT 5 answer carries the error's message as its Reason String (spec
// 3.2.2.3.8, 3.14.2.2.3; allowed on CONNACK and DISCONNECT even when the client
// asked for no problem information). Messages are fixed texts written at the
// throw sites: never a password or authentication data.
//
// Who calls it: link.ts, for every ProtocolError thrown by a handler or the decoder.

import {
  ConnackReturnCodeV3,
  type MqttPacket,
  type ProtocolError,
  type ProtocolVersion,
  toV3ConnackReturnCode,
} from "../protocol/index.ts";

export interface ErrorAnswer {
  /** The packet to send before closing, if any. */
  packet: MqttPacket | undefined;
  /** The protocol version to encode it with. */
  version: ProtocolVersion;
}

export function answerFor(
  error: ProtocolError,
  version: ProtocolVersion,
  connackSent: boolean,
): ErrorAnswer {
  if (version === 5) {
    const properties = { reasonString: error.message };
    if (connackSent) {
      return { packet: { cmd: "disconnect", reasonCode: error.reasonCode, properties }, version };
    }
    return {
      packet: { cmd: "connack", sessionPresent: false, reasonCode: error.reasonCode, properties },
      version,
    };
  }
  if (connackSent) return { packet: undefined, version };
  const returnCode = toV3ConnackReturnCode(error.reasonCode);
  // A malformed packet or a protocol error has no 3.1.1 return code: just close.
  const meaningful =
    returnCode !== ConnackReturnCodeV3.ServerUnavailable ||
    error.reason === "ServerUnavailable" ||
    error.reason === "ServerBusy" ||
    error.reason === "QuotaExceeded";
  if (!meaningful) return { packet: undefined, version };
  return { packet: { cmd: "connack", sessionPresent: false, returnCode }, version };
}
