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

describe("MQTT 5 user properties and repeated properties", () => {
  const pairs: Array<[string, string]> = [
    ["b", "1"],
    ["a", "2"],
    ["b", "3"],
    ["10", "x"],
    ["2", "y"],
  ];

  test("a PUBLISH keeps its user properties in wire order through decode and encode [MQTT-3.3.2-18]", () => {
    const publish: MqttPacket = {
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("p"),
      qos: 1,
      packetId: 3,
      dup: false,
      retain: false,
      properties: { contentType: "text/plain" },
      userPropertyList: pairs,
    };
    const bytes = encodePacket(publish, 5);
    const { packets, errors } = decodeAll([encodePacket(connect5, 5), bytes]);
    assert.deepEqual(errors, []);
    const back = packets[1];
    assert.equal(back?.cmd, "publish");
    assert.deepEqual(back?.userPropertyList, pairs);
    assert.equal(back?.cmd === "publish" && back.properties?.contentType, "text/plain");
    assert.equal(back?.cmd === "publish" && back.payload.toString(), "p");
    // Encoding what was decoded gives the same bytes.
    assert.deepEqual(encodePacket(back as MqttPacket, 5), bytes);
  });

  test("a CONNECT's own user properties and its will's are told apart", () => {
    const connect = {
      ...connect5,
      properties: { userProperties: { own: "1" } },
      will: {
        topic: "w",
        payload: Buffer.from("bye"),
        qos: 0 as const,
        retain: false,
        properties: { userProperties: { z: "1", y: "2" } },
      },
    } as MqttPacket;
    const { packets } = decodeAll([encodePacket(connect, 5)]);
    const back = packets[0] as MqttPacket & { willUserPropertyList?: unknown };
    assert.deepEqual(back.userPropertyList, [["own", "1"]]);
    assert.deepEqual(back.willUserPropertyList, [
      ["z", "1"],
      ["y", "2"],
    ]);
  });

  test("a property given twice where the spec allows one is a protocol error", () => {
    // PUBLISH "t" QoS 0 with Content Type (0x03) twice.
    const props = Buffer.from([0x03, 0x00, 0x01, 0x61, 0x03, 0x00, 0x01, 0x62]);
    const body = Buffer.concat([Buffer.from([0x00, 0x01, 0x74, props.length]), props]);
    const publish = Buffer.concat([Buffer.from([0x30, body.length]), body]);
    const { errors } = decodeAll([encodePacket(connect5, 5), publish]);
    assert.equal(errors[0]?.reason, "ProtocolError");
  });

  test("the size limit counts the whole packet, fixed header included", () => {
    const publish: MqttPacket = {
      cmd: "publish",
      topic: "t",
      payload: Buffer.alloc(100),
      qos: 0,
      dup: false,
      retain: false,
    };
    const bytes = encodePacket(publish, 5);
    const at = (limit: number) =>
      decodeAll([encodePacket(connect5, 5), bytes], limit).errors.map((e) => e.reason);
    assert.deepEqual(at(bytes.length), []);
    assert.deepEqual(at(bytes.length - 1), ["PacketTooLarge"]);
  });
});

test("a PUBLISH with several subscription identifiers (server to client) decodes; a SUBSCRIBE with two is a protocol error", () => {
  const publish: MqttPacket = {
    cmd: "publish",
    topic: "t",
    payload: Buffer.from("p"),
    qos: 0,
    dup: false,
    retain: false,
    properties: { subscriptionIdentifier: [1, 7] },
  };
  const ok = decodeAll([encodePacket(connect5, 5), encodePacket(publish, 5)]);
  assert.deepEqual(ok.errors, []);
  const back = ok.packets[1];
  assert.deepEqual(back?.cmd === "publish" && back.properties?.subscriptionIdentifier, [1, 7]);
  const subscribe = encodePacket(
    {
      cmd: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "a", qos: 0 }],
      properties: { subscriptionIdentifier: [1, 2] as unknown as number },
    },
    5,
  );
  const bad = decodeAll([encodePacket(connect5, 5), subscribe]);
  assert.equal(bad.errors[0]?.reason, "ProtocolError");
});
