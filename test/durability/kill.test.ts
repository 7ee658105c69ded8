// Issue 4, the durability contract as process tests: the CLI on a temporary
// data directory, a persistent subscriber (MQTT 3.1.1 and 5, QoS 1 and 2,
// offline during the stream or online), a publisher streaming numbered
// messages with retained ones among them and recording every
// acknowledgement; the broker is stopped at a random moment, restarted on the
// same directory, and the clients reconnect. After SIGKILL nothing
// acknowledged is missing, QoS 2 has no duplicate, retained values are
// current and both sessions are present; after SIGTERM nothing at all is
// lost or duplicated. The rounds themselves live in tools/crash-round.ts,
// shared with tools/crash-drill.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Qos, type RoundResult, runRound, type Version } from "../../tools/crash-round.ts";

type Duplicates = "none" | "any";

const KILL_ROUNDS = 3;
const MESSAGES = 200;

function explain(result: RoundResult): string {
  const { lost, duplicated, ...rest } = result;
  return JSON.stringify({ ...rest, lost: lost.slice(0, 20), duplicated: duplicated.slice(0, 20) });
}

/** `duplicates`: "none" forbids any (QoS 2 is exactly once); "any" allows them (QoS 1). */
function assertSurvived(result: RoundResult, duplicates: Duplicates): void {
  const why = explain(result);
  assert.deepEqual(result.lost, [], `acknowledged messages lost: ${why}`);
  if (duplicates === "none") assert.deepEqual(result.duplicated, [], `duplicates: ${why}`);
  assert.deepEqual(result.staleRetained, [], `retained values not current: ${why}`);
  assert.deepEqual(result.sessionPresent, { subscriber: true, publisher: true }, why);
  assert.ok(result.acknowledged >= result.killedAfterAcks, why);
}

for (const version of [4, 5] as const satisfies readonly Version[]) {
  for (const qos of [1, 2] as const satisfies readonly Qos[]) {
    for (const offline of [true, false]) {
      const name = `MQTT ${version === 4 ? "3.1.1" : "5"}, QoS ${qos}, subscriber ${offline ? "offline" : "online"} during the stream`;
      describe(name, () => {
        const killRounds = async (duplicates: Duplicates) => {
          for (let round = 0; round < KILL_ROUNDS; round++) {
            const sync = round % 2 === 0 ? "fsync" : "os";
            const result = await runRound({
              version,
              qos,
              offline,
              signal: "SIGKILL",
              sync,
              messages: MESSAGES,
            });
            assertSurvived(result, duplicates);
          }
        };

        test(`after SIGKILL at a random moment (${KILL_ROUNDS} rounds, fsync and os), every acknowledged message is delivered${qos === 2 ? " exactly once" : ""}, retained values are current and the sessions are present`, () =>
          killRounds(qos === 1 ? "any" : "none"));

        const termRound = () =>
          runRound({ version, qos, offline, signal: "SIGTERM", sync: "os", messages: MESSAGES });

        // A graceful stop drains acknowledgements both ways before it closes
        // (Link.drain), so at QoS 1 too nothing is sent twice.
        test("after SIGTERM at a random moment, nothing is lost and nothing is duplicated", async () => {
          assertSurvived(await termRound(), "none");
        });
      });
    }
  }
}
