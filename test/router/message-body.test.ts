// The message body layout (message.ts) byte for byte: it is stored in the log
// and in the index, so building it faster must not change a byte of it.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeBody } from "../../src/router/message.ts";

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
});
