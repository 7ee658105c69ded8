// armDeadline (src/router/deadline.ts): a wait longer than one Node timer
// (2^31-1 ms, about 24.8 days) is made of several timers, re-armed until the
// deadline has passed. A small maxTimerMs stands for Node's limit here, so
// that the waits take milliseconds, not days.
import assert from "node:assert/strict";
import { test } from "node:test";
import { armDeadline, MAX_TIMER_MS } from "../../src/router/deadline.ts";
import { withTimeout } from "../helpers/broker.ts";

/** Resolves at `deadlineMs`, through armDeadline itself (a marker in time, instead of a sleep). */
function reached(deadlineMs: number): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => armDeadline(deadlineMs, resolve, 10)),
    "a marker deadline",
  );
}

test("a deadline further away than the longest timer fires once, not before its time, after several timers", async () => {
  const deadlineMs = Date.now() + 120;
  const firedAt = await withTimeout(
    new Promise<number>((resolve) => {
      armDeadline(deadlineMs, () => resolve(Date.now()), 10);
    }),
    "the deadline",
  );
  assert.ok(firedAt >= deadlineMs, `fired ${deadlineMs - firedAt} ms early`);
});

test("fire runs exactly once", async () => {
  let fired = 0;
  await withTimeout(
    new Promise<void>((resolve) => {
      armDeadline(
        Date.now() + 30,
        () => {
          fired += 1;
          resolve();
        },
        7,
      );
    }),
    "the deadline",
  );
  // Several of the 7 ms timers later, a second call would have come.
  await reached(Date.now() + 50);
  assert.equal(fired, 1);
});

test("a deadline that has passed fires at once", async () => {
  const firedAt = await withTimeout(
    new Promise<number>((resolve) => armDeadline(Date.now() - 1000, () => resolve(Date.now()))),
    "the deadline",
  );
  assert.ok(firedAt - Date.now() < 1000);
});

test("cancel() between two timers of a long wait stops it", async () => {
  let fired = false;
  const deadline = armDeadline(
    Date.now() + 60,
    () => {
      fired = true;
    },
    10,
  );
  const startMs = Date.now();
  await reached(startMs + 25); // the first timers have run and re-armed
  deadline.cancel();
  // Past the deadline: a wait that was not cancelled would have fired.
  await reached(startMs + 100);
  assert.equal(fired, false);
});

test("the longest timer is Node's: 2^31-1 ms", () => {
  assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
});
