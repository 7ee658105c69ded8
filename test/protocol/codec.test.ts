import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConnackReturnCodeV3,
  createDecoder,
  encodePacket,
  type MqttPacket,
  type ProtocolError,
  ReasonCode,
  toV3ConnackReturnCode,
} from "../../src/protocol/index.ts";

function decodeAll(chunks: Buffer[], maxPacketBytes = 1_000_000) {
  const packets: MqttPacket[] = [];
  const errors: ProtocolError[] = [];
  const decoder = createDecoder({
    maxPacketBytes,
    onPacket: (p) => packets.push(p),
    onError: (e) => errors.push(e),
  });
  for (const chunk of chunks) decoder.push(chunk);
  return { packets, errors };
}

const connect5: MqttPacket = {
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 5,
  clean: true,
  clientId: "c1",
  keepalive: 30,
  properties: { sessionExpiryInterval: 10 },
};

describe("codec", () => {
  test("a v5 CONNECT then a PUBLISH decode with packetId, byte by byte", () => {
    const publish: MqttPacket = {
      cmd: "publish",
      topic: "a/b",
      payload: Buffer.from("hi"),
      qos: 1,
      dup: false,
      retain: false,
      packetId: 7,
    };
    const bytes = Buffer.concat([encodePacket(connect5, 5), encodePacket(publish, 5)]);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const { packets, errors } = decodeAll(chunks);
    assert.deepEqual(errors, []);
    assert.equal(packets.length, 2);
    const [connect, pub] = packets;
    assert.equal(connect?.cmd, "connect");
    assert.equal(pub?.cmd === "publish" && pub.packetId, 7);
    assert.equal(pub?.cmd === "publish" && pub.topic, "a/b");
    assert.ok(!("messageId" in (pub as object)));
  });

  test("garbage is reported once as MalformedPacket", () => {
    const { packets, errors } = decodeAll([Buffer.from([0x00, 0x00, 0xff])]);
    assert.equal(packets.length, 0);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, "ERR_PROTOCOL");
    assert.equal(errors[0]?.reason, "MalformedPacket");
  });

  test("an unknown protocol level is reported as UnsupportedProtocolVersion [MQTT-3.1.2-2]", () => {
    const bytes = encodePacket({ ...connect5, protocolVersion: 4 } as MqttPacket, 4);
    bytes[8] = 9; // the protocol level byte after the fixed header and "MQTT"
    const { errors } = decodeAll([bytes]);
    assert.equal(errors[0]?.reason, "UnsupportedProtocolVersion");
  });

  test("a packet larger than the limit is refused once its length is known", () => {
    const publish: MqttPacket = {
      cmd: "publish",
      topic: "t",
      payload: Buffer.alloc(5000),
      qos: 0,
      dup: false,
      retain: false,
    };
    const bytes = Buffer.concat([
      encodePacket({ ...connect5, protocolVersion: 4 } as MqttPacket, 4),
      encodePacket(publish, 4),
    ]);
    const { packets, errors } = decodeAll([bytes.subarray(0, 40)], 1000);
    assert.equal(packets.length, 1);
    assert.equal(errors[0]?.reason, "PacketTooLarge");
  });

  test("v5 CONNACK reason codes map onto 3.1.1 return codes", () => {
    assert.equal(toV3ConnackReturnCode(ReasonCode.Success), ConnackReturnCodeV3.Accepted);
    assert.equal(
      toV3ConnackReturnCode(ReasonCode.ClientIdentifierNotValid),
      ConnackReturnCodeV3.IdentifierRejected,
    );
    assert.equal(
      toV3ConnackReturnCode(ReasonCode.BadUserNameOrPassword),
      ConnackReturnCodeV3.BadUserNameOrPassword,
    );
    assert.equal(
      toV3ConnackReturnCode(ReasonCode.NotAuthorized),
      ConnackReturnCodeV3.NotAuthorized,
    );
    assert.equal(
      toV3ConnackReturnCode(ReasonCode.QuotaExceeded),
      ConnackReturnCodeV3.ServerUnavailable,
    );
    assert.equal(
      toV3ConnackReturnCode(ReasonCode.UnsupportedProtocolVersion),
      ConnackReturnCodeV3.UnacceptableProtocolVersion,
    );
  });
});
