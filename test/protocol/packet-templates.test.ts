// Encode once, send many: a template copied out with its packet id and DUP
// patched must be byte for byte what encodePacket makes of that delivery;
// a delivery that is not the cached message (per-subscriber properties)
// must not get the template; the byte budget holds. Also the decoder's fast
// PUBLISH path and its lean parser against mqtt-packet's own output.

import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { describe, test } from "node:test";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import {
  type AckCommand,
  acceptedConnackTemplate,
  ackTemplate,
  createDecoder,
  DUP_FLAG,
  decodeFast,
  encodePacket,
  encodePublishFast,
  MEMO_MAX_TOPIC_BYTES,
  type MqttPacket,
  type PacketTemplate,
  type ProtocolVersion,
  PublishTemplates,
  TemplateBudget,
  type TopicMemo,
} from "../../src/protocol/index.ts";

/** What the outbox does when it copies a template out (outbox.ts). */
function patch(template: PacketTemplate, packetId: number, dup: boolean): Buffer {
  const bytes = Buffer.from(template.bytes);
  if (dup) bytes[0] = (bytes[0] as number) | DUP_FLAG;
  if (template.packetIdAt >= 0) bytes.writeUInt16BE(packetId, template.packetIdAt);
  return bytes;
}

function publishOf(
  source: { topic: string; payload: Buffer; properties?: object },
  qos: 0 | 1 | 2,
  retain: boolean,
  packetId: number | undefined,
  dup: boolean,
): MqttPacket {
  return {
    cmd: "publish",
    topic: source.topic,
    payload: source.payload,
    qos,
    retain,
    dup,
    ...(packetId === undefined ? {} : { packetId }),
    ...(source.properties === undefined ? {} : { properties: source.properties }),
  } as MqttPacket;
}

describe("packet templates", () => {
  test("a patched template equals the encoded delivery for every version, QoS, RETAIN and DUP", () => {
    // A topic of 200 bytes and a 300-byte payload make a two-byte Remaining Length.
    const sources = [
      { topic: "a/b", payload: Buffer.from("hello") },
      { topic: "t/".repeat(100), payload: Buffer.alloc(300, 7) },
      {
        topic: "v5/props",
        payload: Buffer.from("x"),
        properties: { contentType: "text/plain", payloadFormatIndicator: true },
      },
    ];
    for (const source of sources) {
      const templates = new PublishTemplates(source, new TemplateBudget(1 << 20));
      for (const version of [3, 4, 5] as ProtocolVersion[]) {
        for (const qos of [0, 1, 2] as const) {
          for (const retain of [false, true]) {
            const encode = () =>
              encodePacket(publishOf(source, qos, retain, qos > 0 ? 1 : undefined, false), version);
            for (const [packetId, dup] of [
              [1, false],
              [513, true],
              [65_535, false],
            ] as const) {
              if (qos === 0 && dup) continue; // [MQTT-3.3.1-2]
              const delivery = { ...source, qos, retain };
              const template = templates.lookup(delivery, version, encode);
              assert.ok(template !== undefined);
              const id = qos > 0 ? packetId : undefined;
              assert.deepEqual(
                patch(template, packetId, dup),
                encodePacket(publishOf(source, qos, retain, id, dup), version),
                `v${version} QoS ${qos} retain ${retain} id ${packetId} dup ${dup}`,
              );
            }
          }
        }
      }
    }
  });

  test("each variant is encoded once; a delivery with other properties or topic gets no template", () => {
    const properties = { contentType: "a" };
    const source = { topic: "a", payload: Buffer.from("p"), properties };
    const templates = new PublishTemplates(source, new TemplateBudget(1 << 20));
    let encodes = 0;
    const encode = () => {
      encodes++;
      return encodePacket(publishOf(source, 1, false, 1, false), 5);
    };
    const delivery = { ...source, qos: 1, retain: false };
    const kept = templates.lookup(delivery, 5, encode);
    templates.lookup(delivery, 5, encode);
    assert.equal(encodes, 1);
    // A second variant is kept beside the first (which is kept in a field of its own).
    const retained = { ...delivery, retain: true };
    const other = templates.lookup(retained, 5, encode);
    assert.equal(templates.lookup(retained, 5, encode), other);
    assert.equal(templates.lookup(delivery, 5, encode), kept);
    assert.notEqual(other, kept);
    assert.equal(encodes, 2);
    encodes = 1;
    // A per-subscriber property (a subscription identifier) makes a new properties object.
    const own = { ...delivery, properties: { ...properties, subscriptionIdentifier: 3 } };
    assert.equal(templates.lookup(own, 5, encode), undefined);
    assert.equal(templates.lookup({ ...delivery, topic: "" }, 5, encode), undefined);
    assert.equal(
      templates.lookup({ ...delivery, payload: Buffer.from("p") }, 5, encode),
      undefined,
    );
    assert.equal(encodes, 1);
  });

  test("templates beyond the byte budget are not kept, and released ones give their bytes back", () => {
    const source = { topic: "a", payload: Buffer.alloc(100) };
    const budget = new TemplateBudget(150);
    const first = new PublishTemplates(source, budget);
    const second = new PublishTemplates(source, budget);
    let encodes = 0;
    const encode = () => {
      encodes++;
      return encodePacket(publishOf(source, 0, false, undefined, false), 4);
    };
    const delivery = { ...source, qos: 0, retain: false };
    first.lookup(delivery, 4, encode);
    const size = budget.usedBytes;
    assert.ok(size > 100 && size <= 150);
    second.lookup(delivery, 4, encode);
    second.lookup(delivery, 4, encode);
    assert.equal(encodes, 3, "over the budget, every lookup encodes");
    assert.equal(budget.usedBytes, size);
    first.release();
    assert.equal(budget.usedBytes, 0);
    second.lookup(delivery, 4, encode);
    second.lookup(delivery, 4, encode);
    assert.equal(encodes, 4);
  });

  test("ack templates are what encodePacket makes of an ack without reason code", () => {
    const commands: AckCommand[] = ["puback", "pubrec", "pubrel", "pubcomp"];
    for (const version of [3, 4, 5] as ProtocolVersion[]) {
      for (const cmd of commands) {
        for (const packetId of [1, 258, 65_535]) {
          assert.deepEqual(
            patch(ackTemplate(cmd, version), packetId, false),
            encodePacket({ cmd, packetId }, version),
          );
        }
      }
    }
  });
});

describe("CONNACK template", () => {
  test("a 3.1 / 3.1.1 CONNACK accepted is the spec's four bytes, as mqtt-packet writes them", () => {
    for (const version of [3, 4] as const) {
      for (const sessionPresent of [false, true]) {
        const template = acceptedConnackTemplate(version, sessionPresent);
        assert.ok(template !== undefined);
        assert.equal(template.packetIdAt, -1);
        // Spec 3.2: type 2, Remaining Length 2, Session Present in bit 0, return code 0.
        assert.deepEqual(template.bytes, Buffer.from([0x20, 0x02, sessionPresent ? 1 : 0, 0x00]));
        assert.deepEqual(
          template.bytes,
          mqttPacket.generate(
            { cmd: "connack", sessionPresent, returnCode: 0 },
            { protocolVersion: version },
          ),
        );
      }
    }
  });

  test("there is no CONNACK template for MQTT 5 (its CONNACK carries properties)", () => {
    assert.equal(acceptedConnackTemplate(5, false), undefined);
    assert.equal(acceptedConnackTemplate(5, true), undefined);
  });
});

describe("decoder fast paths", () => {
  const decode = decodeStream;

  test("a decoded PUBLISH has the fields mqtt-packet's own packet has, in the same order", () => {
    for (const version of [4, 5] as const) {
      const connect = encodePacket(
        {
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: version,
          clientId: "c",
          clean: true,
        },
        version,
      );
      const publishes: MqttPacket[] = [
        {
          cmd: "publish",
          topic: "a",
          payload: Buffer.from("0"),
          qos: 0,
          retain: false,
          dup: false,
        },
        {
          cmd: "publish",
          topic: "a/b",
          payload: Buffer.from("12"),
          qos: 2,
          retain: true,
          dup: true,
          packetId: 7,
          ...(version === 5 ? { properties: { contentType: "t", messageExpiryInterval: 9 } } : {}),
        },
      ];
      const wire = publishes.map((p) => encodePacket(p, version));
      // mqtt-packet's parser, fed the same bytes, for the reference shape.
      const reference: Record<string, unknown>[] = [];
      const parser = mqttPacket.parser({ protocolVersion: version });
      parser.on("packet", (p: mqttPacket.Packet) => {
        const {
          messageId,
          length: _length,
          ...rest
        } = p as mqttPacket.Packet & {
          messageId?: number;
          length?: number;
        };
        reference.push(messageId === undefined ? rest : { ...rest, packetId: messageId });
      });
      for (const bytes of wire) parser.parse(bytes);
      // One byte at a time through our decoder (the lean parser buffer joins the pieces).
      const all = Buffer.concat([connect, ...wire]);
      const decoded = decode([...all].map((b) => Buffer.from([b]))).slice(1);
      assert.equal(decoded.length, 2);
      for (const [i, packet] of decoded.entries()) {
        assert.deepEqual(packet, reference[i]);
        assert.deepEqual(Object.keys(packet), Object.keys(reference[i] as object));
      }
    }
  });
});

/** What mqtt-packet's parser makes of `bytes` after a CONNECT of `version`, converted as the codec does. */
function reference(bytes: Buffer, version: ProtocolVersion): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on("packet", (p: mqttPacket.Packet) => {
    const {
      messageId,
      length: _length,
      ...rest
    } = p as mqttPacket.Packet & {
      messageId?: number;
      length?: number;
    };
    out.push(messageId === undefined ? rest : { ...rest, packetId: messageId });
  });
  parser.on("error", () => undefined);
  parser.parse(bytes);
  return out;
}

/** FC_SEED=<n> replays a run; fast-check prints the seed of a failure. */
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

describe("codec fast path", () => {
  const publishArb = fc.record({
    version: fc.constantFrom(3, 4, 5) as fc.Arbitrary<ProtocolVersion>,
    topic: fc.string({ unit: "grapheme", maxLength: 40 }),
    payload: fc.uint8Array({ maxLength: 300 }),
    qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    retain: fc.boolean(),
    dup: fc.boolean(),
    packetId: fc.integer({ min: 1, max: 65_535 }),
  });

  test("a PUBLISH without properties encodes as encodePacket does and decodes as mqtt-packet does", () => {
    fc.assert(
      fc.property(publishArb, ({ version, topic, payload, qos, retain, dup, packetId }) => {
        const packet = {
          cmd: "publish",
          topic,
          payload: Buffer.from(payload),
          qos,
          retain,
          dup,
          ...(qos > 0 ? { packetId } : {}),
        } as const;
        const fast = encodePublishFast(packet, version);
        const general = encodePacket(packet as MqttPacket, version);
        assert.deepEqual(fast, general);
        const decoded = decodeFast(general, 0, version, 1 << 20);
        assert.ok(decoded !== undefined);
        assert.equal(decoded.end, general.length);
        assert.equal(decoded.bytes, general.length);
        const [expected] = reference(general, version);
        assert.deepEqual(decoded.packet, expected);
        assert.deepEqual(Object.keys(decoded.packet), Object.keys(expected as object));
      }),
      { numRuns: 300, ...(seed === undefined ? {} : { seed }) },
    );
  });

  test("with a topic memo, a run of PUBLISHes decodes as without one and as mqtt-packet does, whatever the memo held", () => {
    // Topics of one length that differ in one byte, ill-formed UTF-8 of the same length,
    // a wildcard (the decoder takes it; the handler refuses it), a topic too long to be
    // remembered, the empty topic; zero-length payloads, QoS 2 and RETAIN among them.
    const topics = [
      Buffer.from("a/b/cd"),
      Buffer.from("a/b/cd"),
      Buffer.from("a/b/ce"),
      Buffer.from([0x61, 0x2f, 0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from("a/b/ce"),
      Buffer.from("a/+/cd"),
      Buffer.from("é/ü/x"),
      Buffer.from("t".repeat(MEMO_MAX_TOPIC_BYTES + 1)),
      Buffer.from("t".repeat(MEMO_MAX_TOPIC_BYTES + 1)),
      Buffer.alloc(0),
      Buffer.from("a/b/cd"),
    ];
    const rawPublish = (topic: Buffer, i: number, version: ProtocolVersion): Buffer => {
      const qos = i % 3;
      const body = Buffer.concat([
        Buffer.from([topic.length >> 8, topic.length & 0xff]),
        topic,
        qos > 0 ? Buffer.from([0, i + 1]) : Buffer.alloc(0),
        version === 5 ? Buffer.from([0]) : Buffer.alloc(0),
        i % 2 === 0 ? Buffer.alloc(0) : Buffer.from("payload"),
      ]);
      const length =
        body.length < 128 ? [body.length] : [(body.length & 0x7f) | 0x80, body.length >> 7];
      return Buffer.concat([
        Buffer.from([0x30 | (qos << 1) | (i % 4 === 3 ? 1 : 0), ...length]),
        body,
      ]);
    };
    for (const version of [3, 4, 5] as ProtocolVersion[]) {
      const memo: TopicMemo = { bytes: undefined, text: "" };
      for (const [i, topic] of topics.entries()) {
        const bytes = rawPublish(topic, i, version);
        const withMemo = decodeFast(bytes, 0, version, 1 << 20, memo);
        const without = decodeFast(bytes, 0, version, 1 << 20);
        assert.deepEqual(withMemo, without, `${version} ${i}`);
        const [expected] = reference(bytes, version);
        if (!isUtf8(topic)) {
          // Left to mqtt-packet, which reports the ill-formed string (codec.ts refuses it).
          assert.equal(withMemo, undefined);
          continue;
        }
        assert.ok(withMemo !== undefined);
        assert.deepEqual(withMemo.packet, expected, `${version} ${i}`);
        assert.equal(
          memo.text === (withMemo.packet as { topic: string }).topic,
          topic.length <= MEMO_MAX_TOPIC_BYTES,
        );
      }
    }
  });

  test("payload sizes at the Remaining Length boundaries encode as encodePacket does", () => {
    for (const size of [0, 120, 121, 122, 16_375, 16_376, 16_377, 2_097_140, 2_097_150]) {
      for (const version of [4, 5] as const) {
        const packet = {
          cmd: "publish",
          topic: "a/b",
          payload: Buffer.alloc(size, 3),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 9,
        } as const;
        assert.deepEqual(
          encodePublishFast(packet, version),
          encodePacket(packet as MqttPacket, version),
        );
      }
    }
  });

  test("acknowledgements decode as mqtt-packet decodes them, MQTT 5 with reason code 0", () => {
    const commands: AckCommand[] = ["puback", "pubrec", "pubrel", "pubcomp"];
    for (const version of [3, 4, 5] as ProtocolVersion[]) {
      for (const cmd of commands) {
        const bytes = patch(ackTemplate(cmd, 4), 4242, false); // two-byte form
        const decoded = decodeFast(bytes, 0, version, 1 << 20);
        assert.ok(decoded !== undefined);
        const [expected] = reference(bytes, version);
        assert.deepEqual(decoded.packet, expected);
        assert.deepEqual(Object.keys(decoded.packet), Object.keys(expected as object));
      }
    }
  });

  test("PINGREQ and a 3.1.1 DISCONNECT decode as mqtt-packet decodes them", () => {
    const cases: Array<[Buffer, ProtocolVersion]> = [
      [encodePacket({ cmd: "pingreq" }, 4), 3],
      [encodePacket({ cmd: "pingreq" }, 4), 4],
      [encodePacket({ cmd: "pingreq" }, 5), 5],
      [encodePacket({ cmd: "disconnect" }, 4), 3],
      [encodePacket({ cmd: "disconnect" }, 4), 4],
    ];
    for (const [bytes, version] of cases) {
      const decoded = decodeFast(bytes, 0, version, 1 << 20);
      assert.ok(decoded !== undefined);
      assert.equal(decoded.end, 2);
      const [expected] = reference(bytes, version);
      assert.deepEqual(decoded.packet, expected);
      assert.deepEqual(Object.keys(decoded.packet), Object.keys(expected as object));
    }
  });

  test("what the fast path does not take is left to mqtt-packet", () => {
    const v5 = (packet: MqttPacket) => encodePacket(packet, 5);
    const refused: Array<[string, Buffer, ProtocolVersion]> = [
      ["QoS 3", Buffer.from([0x36, 0x05, 0, 1, 0x61, 0, 1]), 4],
      ["PUBREL with flags 0", Buffer.from([0x60, 0x02, 0, 1]), 4],
      ["PUBACK with flags 2", Buffer.from([0x42, 0x02, 0, 1]), 4],
      ["PUBACK with a reason code", v5({ cmd: "puback", packetId: 1, reasonCode: 0x10 }), 5],
      [
        "PUBLISH with properties",
        v5({
          cmd: "publish",
          topic: "t",
          payload: Buffer.from("x"),
          qos: 0,
          retain: false,
          dup: false,
          properties: { contentType: "c" },
        }),
        5,
      ],
      ["topic longer than the packet", Buffer.from([0x30, 0x03, 0, 9, 0x61]), 4],
      ["ill-formed UTF-8 topic", Buffer.from([0x30, 0x05, 0, 2, 0xc3, 0x28, 0x61]), 4],
      ["incomplete packet", Buffer.from([0x30, 0x05, 0, 1, 0x61]), 4],
      [
        "SUBSCRIBE",
        encodePacket({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: "t", qos: 0 }] }, 4),
        4,
      ],
      ["MQTT 5 DISCONNECT", encodePacket({ cmd: "disconnect" }, 5), 5],
      ["PINGREQ with flags", Buffer.from([0xc1, 0x00]), 4],
    ];
    for (const [what, bytes, version] of refused) {
      assert.equal(decodeFast(bytes, 0, version, 1 << 20), undefined, what);
    }
    const big = encodePacket(
      { cmd: "publish", topic: "t", payload: Buffer.alloc(100), qos: 0, retain: false, dup: false },
      4,
    );
    assert.equal(decodeFast(big, 0, 4, big.length - 1), undefined, "larger than the limit");
    assert.ok(decodeFast(big, 0, 4, big.length) !== undefined);
  });

  test("a stream mixing fast and general packets decodes in order, split anywhere", () => {
    const version = 5;
    const packets: MqttPacket[] = [
      { cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clientId: "c", clean: true },
      {
        cmd: "publish",
        topic: "a",
        payload: Buffer.from("1"),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
      },
      { cmd: "subscribe", packetId: 2, subscriptions: [{ topic: "x/#", qos: 1 }] },
      { cmd: "puback", packetId: 3 },
      {
        cmd: "publish",
        topic: "b",
        payload: Buffer.from("2"),
        qos: 0,
        retain: true,
        dup: false,
        properties: { contentType: "t" },
      },
      { cmd: "pubrel", packetId: 4 },
      { cmd: "pingreq" },
      {
        cmd: "publish",
        topic: "c",
        payload: Buffer.from("3"),
        qos: 2,
        retain: false,
        dup: true,
        packetId: 5,
      },
    ];
    const wire = Buffer.concat(packets.map((p) => encodePacket(p, version)));
    const whole = decodeStream([wire]);
    assert.deepEqual(
      whole.map((p) => p.cmd),
      packets.map((p) => p.cmd),
    );
    for (let cut = 1; cut < wire.length; cut++) {
      assert.deepEqual(
        decodeStream([wire.subarray(0, cut), wire.subarray(cut)]),
        whole,
        `cut at ${cut}`,
      );
    }
  });
});

function decodeStream(chunks: Buffer[]): MqttPacket[] {
  const packets: MqttPacket[] = [];
  const decoder = createDecoder({
    maxPacketBytes: 1 << 20,
    onPacket: (p) => packets.push(p),
    onError: (e) => assert.fail(e),
  });
  for (const chunk of chunks) decoder.push(chunk);
  return packets;
}

describe("decoder without a parser between packets", () => {
  test("a bridge-mode CONNECT's setting outlives the parser: a later SUBSCRIBE decodes as mqtt-packet decodes it", () => {
    const connect = encodePacket(
      {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: "bridge",
        clean: true,
        bridgeMode: true,
      } as MqttPacket,
      4,
    );
    const subscribe = Buffer.from([0x82, 0x08, 0x00, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x01]);
    const ping = encodePacket({ cmd: "pingreq" }, 4);
    const expected: Record<string, unknown>[] = [];
    const parser = mqttPacket.parser({});
    parser.on("packet", (p: mqttPacket.Packet) => {
      const {
        messageId,
        length: _length,
        ...rest
      } = p as mqttPacket.Packet & {
        messageId?: number;
        length?: number;
      };
      expected.push(messageId === undefined ? rest : { ...rest, packetId: messageId });
    });
    parser.parse(Buffer.concat([connect, ping, subscribe]));
    // Separate chunks: the parser is let go after CONNECT and after PINGREQ.
    const decoded = decodeStream([connect, ping, subscribe]);
    assert.equal(decoded.length, 3);
    assert.deepEqual(decoded[2], expected[2]);
    const sub = decoded[2] as Extract<MqttPacket, { cmd: "subscribe" }>;
    // In bridge mode mqtt-packet gives a 3.1.1 subscription rh, rap and nl (without it: none).
    assert.deepEqual(sub.subscriptions, [{ topic: "a/b", qos: 1, rh: 0, rap: true, nl: true }]);
  });
});
