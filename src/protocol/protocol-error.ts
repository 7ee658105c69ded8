// The typed error for a peer's mistake. Handlers in link/ and router/ throw a
// ProtocolError carrying a named reason code; one function in link/ turns it
// into a CONNACK, a DISCONNECT (MQTT 5) or a closed socket (MQTT 3.1.1).
//
// It never carries a bare number: callers pass a ReasonCodeName.

import { BrokerError } from "../errors.ts";
import { ReasonCode, type ReasonCodeName } from "./reason-codes.ts";

export class ProtocolError extends BrokerError {
  /** The reason code's name, e.g. "MalformedPacket". */
  readonly reason: ReasonCodeName;
  /** The v5 reason code value, e.g. 0x81. */
  readonly reasonCode: number;

  constructor(reason: ReasonCodeName, message: string, options?: { cause?: unknown }) {
    super("ERR_PROTOCOL", message, options);
    this.name = "ProtocolError";
    this.reason = reason;
    this.reasonCode = ReasonCode[reason];
  }
}
