// Makes an accepted MQTT 5 connection's CONNACK fit the client's Maximum
// Packet Size ([MQTT-3.1.2-24]): when the whole CONNACK is too large, the
// properties whose value is what their absence means anyway (spec 3.2.2.3:
// Retain Available, Wildcard Subscription Available, Subscription
// Identifiers Available and Shared Subscription Available when true, Topic
// Alias Maximum 0, Receive Maximum 65535) are left out, and so are the
// reason string and user properties (spec 3.1.2.11.4). What is left is
// needed (the assigned client id, the packet size and keep-alive the server
// imposes, the authentication data); if it still does not fit, there is no
// CONNACK the client can read, and the caller closes the connection.
//
// Who calls it: handlers/connect.ts, before the session is taken or created.
// It never sends anything.

import { type ConnackPacket, encodePacket } from "../protocol/index.ts";

type ConnackProperties = NonNullable<ConnackPacket["properties"]>;

/** CONNACK properties and the value their absence stands for (spec 3.2.2.3). */
const DEFAULT_WHEN_ABSENT: Partial<Record<keyof ConnackProperties, unknown>> = {
  retainAvailable: true,
  wildcardSubscriptionAvailable: true,
  subscriptionIdentifiersAvailable: true,
  sharedSubscriptionAvailable: true,
  topicAliasMaximum: 0,
  receiveMaximum: 65_535,
};

export interface FittedConnack {
  /** The CONNACK to send, or undefined when even the smallest form is too large. */
  packet: ConnackPacket | undefined;
  /** The size in bytes of the packet, or of the smallest form that did not fit. */
  bytes: number;
}

/** The MQTT 5 `connack`, or its smallest equivalent form, within `maxPacketBytes`. */
export function fitConnack(connack: ConnackPacket, maxPacketBytes: number): FittedConnack {
  const bytes = encodePacket(connack, 5).length;
  if (bytes <= maxPacketBytes) return { packet: connack, bytes };
  const smallest = withoutDefaults(connack);
  const smallestBytes = encodePacket(smallest, 5).length;
  return {
    packet: smallestBytes <= maxPacketBytes ? smallest : undefined,
    bytes: smallestBytes,
  };
}

function withoutDefaults(connack: ConnackPacket): ConnackPacket {
  const properties: ConnackProperties = {};
  for (const [name, value] of Object.entries(connack.properties ?? {})) {
    const key = name as keyof ConnackProperties;
    if (key === "reasonString" || key === "userProperties") continue;
    if (key in DEFAULT_WHEN_ABSENT && DEFAULT_WHEN_ABSENT[key] === value) continue;
    (properties as Record<string, unknown>)[key] = value;
  }
  const { userPropertyList: _list, ...rest } = connack;
  return { ...rest, properties };
}
