// The sending side of a link: turns the packets it is given and the
// router's PUBLISHes into bytes within the client's limits (outgoing.ts) and
// queues them in the link's outbox, which it extends (one object per link
// for both). Acknowledgements and accepting 3.1 / 3.1.1 CONNACKs are copied
// from templates; a PUBLISH the router hands with shared templates is encoded
// once for all its subscribers. A packet larger than the client's Maximum
// Packet Size is not sent ([MQTT-3.1.2-24], [MQTT-3.1.2-25]).
//
// Who uses it: link.ts, one per link; the link is its WriterHost.

import type { Duplex } from "node:stream";
import type { Logger } from "../log.ts";
import {
  acceptedConnackTemplate,
  ackTemplate,
  ConnackReturnCodeV3,
  type MqttPacket,
  type PacketTemplate,
  type ProtocolVersion,
} from "../protocol/index.ts";
import type { OutgoingPublish } from "../router/index.ts";
import type { ClientLimits } from "./context.ts";
import { Outbox } from "./outbox.ts";
import { BEFORE_CONNECT, type Outgoing, outgoingFor } from "./outgoing.ts";

/** What a PacketWriter needs of its link. */
export interface WriterHost {
  /** False once the link is closing: nothing more is sent. */
  readonly open: boolean;
  readonly logger: Logger;
  readonly version: ProtocolVersion;
  /** A packet we could not encode (our bug, not the client's): drop the connection. */
  encodeFailed(): void;
  /** A PUBLISH too large for the client was not sent: release it as if delivered. */
  dropped(publish: OutgoingPublish): void;
}

export class PacketWriter extends Outbox {
  readonly #host: WriterHost;
  #out: Outgoing = BEFORE_CONNECT;

  constructor(socket: Duplex, host: WriterHost) {
    super(socket);
    this.#host = host;
  }

  /** The client's limits, from its CONNECT (or a re-authentication). */
  adopt(limits: ClientLimits): void {
    this.#out = outgoingFor(limits);
  }

  send(packet: MqttPacket): void {
    if (!this.#host.open) return;
    const template = ackTemplateFor(packet, this.#host.version);
    if (template !== undefined && template.bytes.length <= this.#out.limits.maxPacketBytes) {
      this.#logSent(packet.cmd, template.bytes.length);
      this.pushTemplate(template, packet.packetId as number, false);
      return;
    }
    const bytes = this.#encode(packet.cmd, () => this.#out.encode(packet, this.#host.version));
    if (bytes === undefined) return;
    if (bytes === null) {
      // [MQTT-3.1.2-24] Not even without its reason string does it fit the client's limit.
      this.#host.logger.warn(
        { event: "packet.dropped", packet: packet.cmd, max_bytes: this.#out.limits.maxPacketBytes },
        "packet larger than the client's maximum packet size not sent",
      );
      return;
    }
    this.#write(packet.cmd, bytes);
  }

  sendPublish(publish: OutgoingPublish): void {
    if (!this.#host.open) return;
    let template: PacketTemplate | undefined;
    try {
      template = this.#out.sharedPublish(publish, this.#host.version);
    } catch (error) {
      this.#host.logger.error(
        { event: "packet.failed", err: error, packet: "publish" },
        "not encodable",
      );
      this.#host.encodeFailed();
      return;
    }
    if (template !== undefined) {
      if (template.bytes.length > this.#out.limits.maxPacketBytes) {
        this.#dropTooLarge(publish);
        return;
      }
      this.#logSent("publish", template.bytes.length);
      this.pushTemplate(template, publish.packetId ?? 0, publish.dup);
      return;
    }
    const bytes = this.#encode("publish", () =>
      this.#out.encodePublish(publish, this.#host.version),
    );
    if (bytes === undefined) return;
    if (bytes === null) {
      this.#dropTooLarge(publish);
      return;
    }
    this.#write("publish", bytes);
  }

  /**
   * Encodes with `encode`; undefined after a packet we cannot encode (our
   * bug, not the client's: the connection is dropped, the broker keeps
   * serving), null when it does not fit the client's Maximum Packet Size.
   */
  #encode(cmd: MqttPacket["cmd"], encode: () => Buffer | undefined): Buffer | null | undefined {
    try {
      return encode() ?? null;
    } catch (error) {
      this.#host.logger.error({ event: "packet.failed", err: error, packet: cmd }, "not encodable");
      this.#host.encodeFailed();
      return undefined;
    }
  }

  #write(cmd: MqttPacket["cmd"], bytes: Buffer): void {
    this.#logSent(cmd, bytes.length);
    this.push(bytes);
  }

  #logSent(cmd: MqttPacket["cmd"], bytes: number): void {
    if (this.#host.logger.isLevelEnabled("debug")) {
      this.#host.logger.debug({ event: "packet.sent", packet: cmd, bytes }, "sent");
    }
  }

  /**
   * [MQTT-3.1.2-25] A PUBLISH larger than the client's Maximum Packet Size is
   * discarded, and the broker behaves as if it had been delivered: the link
   * releases a QoS 1/2 one as if acknowledged; the cursor has moved on.
   */
  #dropTooLarge(publish: OutgoingPublish): void {
    this.#host.logger.warn(
      {
        event: "message.dropped",
        topic: publish.topic,
        qos: publish.qos,
        bytes: publish.payload.length,
        max_bytes: this.#out.limits.maxPacketBytes,
      },
      "message larger than the client's maximum packet size not sent",
    );
    this.#host.dropped(publish);
  }
}

/**
 * The template of an acknowledgement without reason code or properties, or
 * of a 3.1 / 3.1.1 CONNACK that accepts the client; else undefined.
 */
function ackTemplateFor(packet: MqttPacket, version: ProtocolVersion): PacketTemplate | undefined {
  switch (packet.cmd) {
    case "connack":
      return packet.returnCode === ConnackReturnCodeV3.Accepted
        ? acceptedConnackTemplate(version, packet.sessionPresent)
        : undefined;
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return packet.packetId === undefined ||
        packet.reasonCode !== undefined ||
        packet.properties !== undefined ||
        packet.userPropertyList !== undefined
        ? undefined
        : ackTemplate(packet.cmd, version);
    default:
      return undefined;
  }
}
