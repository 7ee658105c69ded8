// MQTT 5 user properties in wire order. mqtt-packet decodes them into an
// object ({ name: value | value[] }), which loses the order of interleaved
// names (a=1, b=2, a=3) and of names that look like integers, while the
// server must keep their order when it forwards a message ([MQTT-3.3.2-18]).
// So the decoder also records each (name, value) pair as it is parsed
// (codec.ts), and a PUBLISH is encoded with its pairs spliced into the
// properties block that mqtt-packet wrote without them.
//
// Who calls it: codec.ts only. Pure functions over buffers.

/** One user property: a UTF-8 string pair, in the order it appeared on the wire. */
export type UserProperty = [name: string, value: string];

/** The property identifier of a User Property (spec 2.2.2.2). */
const USER_PROPERTY_ID = 0x26;
/** The largest value a variable byte integer holds (spec 1.5.5). */
const MAX_VARIABLE_BYTE_INTEGER = 268_435_455;

/** mqtt-packet's object form of a list (used where the order cannot matter). */
export function userPropertyObject(list: readonly UserProperty[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (const [name, value] of list) {
    const values = out[name] ?? [];
    values.push(value);
    out[name] = values;
  }
  return out;
}

/** The pairs of mqtt-packet's object form, in its key order. */
export function userPropertyListOf(
  object: Record<string, string | string[]> | undefined,
): UserProperty[] {
  if (object === undefined) return [];
  const out: UserProperty[] = [];
  for (const [name, value] of Object.entries(object)) {
    if (Array.isArray(value)) for (const v of value) out.push([name, String(v)]);
    else out.push([name, String(value)]);
  }
  return out;
}

/** How many pairs mqtt-packet's object form holds. */
export function userPropertyCount(object: Record<string, string | string[]> | undefined): number {
  if (object === undefined) return 0;
  let count = 0;
  for (const value of Object.values(object)) count += Array.isArray(value) ? value.length : 1;
  return count;
}

function encodeVariableByteInteger(value: number): Buffer {
  if (value > MAX_VARIABLE_BYTE_INTEGER) throw new RangeError(`${value} exceeds a packet's size`);
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

function decodeVariableByteInteger(buf: Buffer, at: number): { value: number; bytes: number } {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const byte = buf.readUInt8(at + i);
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 };
    multiplier *= 128;
  }
  throw new RangeError("variable byte integer longer than 4 bytes");
}

function encodePairs(list: readonly UserProperty[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of list) {
    const n = Buffer.from(name, "utf8");
    const v = Buffer.from(value, "utf8");
    const part = Buffer.alloc(5 + n.length + v.length);
    part.writeUInt8(USER_PROPERTY_ID, 0);
    part.writeUInt16BE(n.length, 1);
    n.copy(part, 3);
    part.writeUInt16BE(v.length, 3 + n.length);
    v.copy(part, 5 + n.length);
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/**
 * Adds `list` at the end of the properties block of an encoded MQTT 5
 * PUBLISH (which must have been encoded without user properties) and fixes
 * the two lengths that change.
 */
export function spliceUserProperties(publish: Buffer, list: readonly UserProperty[]): Buffer {
  if (list.length === 0) return publish;
  const remaining = decodeVariableByteInteger(publish, 1);
  const headerBytes = 1 + remaining.bytes;
  const qos = (publish.readUInt8(0) >> 1) & 0x03;
  const topicBytes = publish.readUInt16BE(headerBytes);
  const propsAt = headerBytes + 2 + topicBytes + (qos > 0 ? 2 : 0);
  const props = decodeVariableByteInteger(publish, propsAt);
  const propsEnd = propsAt + props.bytes + props.value;
  const pairs = encodePairs(list);
  const body = Buffer.concat([
    publish.subarray(headerBytes, propsAt),
    encodeVariableByteInteger(props.value + pairs.length),
    publish.subarray(propsAt + props.bytes, propsEnd),
    pairs,
    publish.subarray(propsEnd),
  ]);
  return Buffer.concat([publish.subarray(0, 1), encodeVariableByteInteger(body.length), body]);
}

/** The size of a whole packet (fixed header included) whose remaining length is `remaining`. */
export function packetBytes(remaining: number): number {
  return 1 + encodeVariableByteInteger(remaining).length + remaining;
}
