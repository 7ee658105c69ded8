// The generator check's verdict (tools/bench/verdict.ts): the README quotes it to say whether a
// fan-in rate is the broker's or the generator's, so each case is pinned here, with the numbers
// of real checks on this machine.
import assert from "node:assert/strict";
import { test } from "node:test";
import { generatorVerdict } from "../../tools/bench/verdict.ts";

test("a busy broker with an idle generator is broker-bound", () => {
  const verdict = generatorVerdict({
    generatorCpuPercent: 6.9,
    brokerCpuPercent: 95.5,
    gainPercent: -25.9,
  });
  assert.equal(verdict, "broker-bound");
});

test("a busy generator with a broker that has room is generator-bound", () => {
  const verdict = generatorVerdict({
    generatorCpuPercent: 95,
    brokerCpuPercent: 60,
    gainPercent: 40,
  });
  assert.match(verdict, /^GENERATOR-BOUND/);
});

test("both busy: a second generator that adds little leaves the broker as the limit", () => {
  const verdict = generatorVerdict({
    generatorCpuPercent: 87.1,
    brokerCpuPercent: 98.8,
    gainPercent: 5.6,
  });
  assert.match(verdict, /^broker-bound \(the generator is busy too/);
});

test("both busy: a second generator that adds much blames the first", () => {
  const verdict = generatorVerdict({
    generatorCpuPercent: 90,
    brokerCpuPercent: 85,
    gainPercent: 30,
  });
  assert.match(verdict, /^GENERATOR-BOUND/);
});

test("neither busy: round trips set the pace, whatever a second generator adds", () => {
  const verdict = generatorVerdict({
    generatorCpuPercent: 40,
    brokerCpuPercent: 50,
    gainPercent: 50,
  });
  assert.match(verdict, /^neither saturated/);
});
