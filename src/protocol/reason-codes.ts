// Reason codes, named once. MQTT 5 reason codes (spec 2.4), MQTT 3.1.1 CONNACK
// return codes (spec 3.2.2.3), and the one mapping from a v5 CONNACK reason
// code to the v3.1.1 return code a 3.1.1 client understands.
//
// Who uses it: protocol errors, the link (CONNACK/DISCONNECT/acks) and the
// router (SUBACK/UNSUBACK/PUBACK reason codes). No other file writes a bare
// reason-code number.

export const ReasonCode = {
  Success: 0x00,
  GrantedQos0: 0x00,
  GrantedQos1: 0x01,
  GrantedQos2: 0x02,
  NormalDisconnection: 0x00,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QosNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

export type ReasonCodeName = keyof typeof ReasonCode;
export type ReasonCodeValue = (typeof ReasonCode)[ReasonCodeName];

/** MQTT 3.1.1 CONNACK return codes (spec 3.2.2.3, table 3.1). */
export const ConnackReturnCodeV3 = {
  Accepted: 0x00,
  UnacceptableProtocolVersion: 0x01,
  IdentifierRejected: 0x02,
  ServerUnavailable: 0x03,
  BadUserNameOrPassword: 0x04,
  NotAuthorized: 0x05,
} as const;

export type ConnackReturnCodeV3Value =
  (typeof ConnackReturnCodeV3)[keyof typeof ConnackReturnCodeV3];

/** The SUBACK return code for a refused subscription in 3.1.1 (spec 3.9.3). */
export const SubackFailureV3 = 0x80;

/**
 * Maps a v5 CONNACK reason code onto the 3.1.1 return code with the closest
 * meaning. Codes without a 3.1.1 counterpart become "server unavailable",
 * the one 3.1.1 code that says "not your fault, not now".
 */
export function toV3ConnackReturnCode(reasonCode: number): ConnackReturnCodeV3Value {
  switch (reasonCode) {
    case ReasonCode.Success:
      return ConnackReturnCodeV3.Accepted;
    case ReasonCode.UnsupportedProtocolVersion:
      return ConnackReturnCodeV3.UnacceptableProtocolVersion;
    case ReasonCode.ClientIdentifierNotValid:
      return ConnackReturnCodeV3.IdentifierRejected;
    case ReasonCode.BadUserNameOrPassword:
      return ConnackReturnCodeV3.BadUserNameOrPassword;
    case ReasonCode.NotAuthorized:
    case ReasonCode.Banned:
      return ConnackReturnCodeV3.NotAuthorized;
    default:
      return ConnackReturnCodeV3.ServerUnavailable;
  }
}

/** True for a v5 reason code that reports a failure (spec 2.4: 0x80 and above). */
export function isFailure(reasonCode: number): boolean {
  return reasonCode >= ReasonCode.UnspecifiedError;
}
