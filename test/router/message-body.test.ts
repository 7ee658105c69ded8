// The message body layout (message.ts) byte for byte: it is stored in the log
// and in the index, so building it faster must not change a byte of it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeBody, encodeBody, publisherOf } from "../../src/router/message.ts";

describe("message body", () => {
  test("formats 1, 2 and 3 are laid out as message.ts documents them", () => {
    const payload = Buffer.from("hi");
    assert.deepEqual(encodeBody(payload, undefined), Buffer.from([1, 0, 0, 0, 0, 0x68, 0x69]));
    const props = Buffer.from(JSON.stringify({ contentType: "t" }));
    assert.deepEqual(
      encodeBody(payload, { contentType: "t" }),
      Buffer.concat([Buffer.from([1, 0, 0, 0, props.length]), props, payload]),
    );
    assert.deepEqual(
      encodeBody(payload, undefined, { clientId: "é", packetId: 258 }),
      Buffer.from([2, 0, 2, 0xc3, 0xa9, 1, 2, 0, 0, 0, 0, 0x68, 0x69]),
    );
    assert.deepEqual(
      encodeBody(payload, { contentType: "t" }, { publisherId: "ab" }),
      Buffer.concat([Buffer.from([3, 0, 2, 0x61, 0x62, 0, 0, 0, props.length]), props, payload]),
    );
  });

  test("a publisher given as a string gives the body its object form gives, whichever publisher came before", () => {
    // The fast path copies the previous body's header for the same publisher (message.ts).
    const ids = ["ab", "ab", "é-client", "ab", "", "", "é-client", "x".repeat(300), "ab"];
    const payloads = [Buffer.from("hi"), Buffer.alloc(0), Buffer.alloc(1500, 7)];
    const bodies: Buffer[] = [];
    for (const [i, id] of ids.entries()) {
      const payload = payloads[i % payloads.length] as Buffer;
      const fast = encodeBody(payload, undefined, id);
      assert.deepEqual(fast, encodeBody(payload, undefined, { publisherId: id }), `${i}: ${id}`);
      assert.equal(publisherOf(fast), id);
      assert.deepEqual(decodeBody(fast), { payload, properties: undefined });
      bodies.push(fast);
    }
    // Earlier bodies are not changed by later ones (a kept header is only read).
    for (const [i, id] of ids.entries()) assert.equal(publisherOf(bodies[i] as Buffer), id);
    // With properties (or an empty properties object) the string form is the object form too.
    const props = { contentType: "t" };
    assert.deepEqual(
      encodeBody(Buffer.from("p"), props, "ab"),
      encodeBody(Buffer.from("p"), props, { publisherId: "ab" }),
    );
    assert.deepEqual(
      encodeBody(Buffer.from("p"), {}, "ab"),
      encodeBody(Buffer.from("p"), {}, { publisherId: "ab" }),
    );
  });
});
