import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { answerFor } from "../../src/link/answer-error.ts";
import { ConnackReturnCodeV3, ProtocolError, ReasonCode } from "../../src/protocol/index.ts";

describe("the one error-to-answer function", () => {
  test("v5 before CONNACK answers with a CONNACK carrying the reason code [MQTT-3.14.0-1]", () => {
    const answer = answerFor(new ProtocolError("ProtocolError", "x"), 5, false);
    assert.deepEqual(answer.packet, {
      cmd: "connack",
      sessionPresent: false,
      reasonCode: ReasonCode.ProtocolError,
      properties: { reasonString: "x" },
    });
  });

  test("v5 after CONNACK answers with a DISCONNECT carrying the reason code and the error's text as reason string", () => {
    const answer = answerFor(new ProtocolError("SessionTakenOver", "x"), 5, true);
    assert.deepEqual(answer.packet, {
      cmd: "disconnect",
      reasonCode: ReasonCode.SessionTakenOver,
      properties: { reasonString: "x" },
    });
  });

  test("3.1.1 refusals with a return code get a CONNACK; malformed packets just close", () => {
    const refused = answerFor(new ProtocolError("ClientIdentifierNotValid", "x"), 4, false);
    assert.deepEqual(refused.packet, {
      cmd: "connack",
      sessionPresent: false,
      returnCode: ConnackReturnCodeV3.IdentifierRejected,
    });
    const quota = answerFor(new ProtocolError("QuotaExceeded", "x"), 4, false);
    assert.equal(
      quota.packet?.cmd === "connack" && quota.packet.returnCode,
      ConnackReturnCodeV3.ServerUnavailable,
    );
    assert.equal(answerFor(new ProtocolError("MalformedPacket", "x"), 4, false).packet, undefined);
    assert.equal(answerFor(new ProtocolError("MalformedPacket", "x"), 4, true).packet, undefined);
  });
});
