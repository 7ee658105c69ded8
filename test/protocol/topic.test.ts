import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { topicFilterProblem, topicMatches, topicNameProblem } from "../../src/protocol/index.ts";

describe("topic names and filters", () => {
  test("an empty topic name or filter is refused [MQTT-4.7.3-1]", () => {
    assert.equal(topicNameProblem(""), "empty");
    assert.equal(topicFilterProblem(""), "empty");
  });

  test("a topic with U+0000 is refused [MQTT-4.7.3-2]", () => {
    assert.equal(topicNameProblem("a\u0000b"), "null_character");
    assert.equal(topicFilterProblem("a/\u0000"), "null_character");
  });

  test("a topic longer than 65,535 bytes of UTF-8 is refused [MQTT-4.7.3-3]", () => {
    assert.equal(topicNameProblem("a".repeat(65_535)), undefined);
    assert.equal(topicNameProblem("a".repeat(65_536)), "too_long");
    assert.equal(topicNameProblem("é".repeat(32_768)), "too_long");
  });

  test("a topic name with a wildcard is refused [MQTT-3.3.2-2]", () => {
    assert.equal(topicNameProblem("a/+"), "wildcard_in_topic");
    assert.equal(topicNameProblem("a/#"), "wildcard_in_topic");
    assert.equal(topicNameProblem("$SYS/x"), undefined);
  });

  test("'#' must be last and alone in its level [MQTT-4.7.1-2]", () => {
    assert.equal(topicFilterProblem("#"), undefined);
    assert.equal(topicFilterProblem("a/#"), undefined);
    assert.equal(topicFilterProblem("a/#/b"), "misplaced_multi_level_wildcard");
    assert.equal(topicFilterProblem("a#"), "misplaced_multi_level_wildcard");
  });

  test("'+' must occupy a whole level [MQTT-4.7.1-3]", () => {
    assert.equal(topicFilterProblem("+/a/+"), undefined);
    assert.equal(topicFilterProblem("a+"), "misplaced_single_level_wildcard");
    assert.equal(topicFilterProblem("a/+b/c"), "misplaced_single_level_wildcard");
  });

  test("matching follows the examples of spec section 4.7.1", () => {
    assert.ok(topicMatches("sport/tennis/player1/#", "sport/tennis/player1"));
    assert.ok(topicMatches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    assert.ok(topicMatches("sport/#", "sport"));
    assert.ok(topicMatches("#", "a/b/c"));
    assert.ok(topicMatches("sport/+", "sport/"));
    assert.ok(!topicMatches("sport/+", "sport"));
    assert.ok(topicMatches("+/+", "/finance"));
    assert.ok(topicMatches("/+", "/finance"));
    assert.ok(!topicMatches("+", "/finance"));
    assert.ok(!topicMatches("a/b", "a/b/c"));
  });

  test("a leading wildcard never matches a '$' topic [MQTT-4.7.2-1]", () => {
    assert.ok(!topicMatches("#", "$SYS/broker"));
    assert.ok(!topicMatches("+/broker", "$SYS/broker"));
    assert.ok(topicMatches("$SYS/#", "$SYS/broker"));
    assert.ok(topicMatches("$SYS/+", "$SYS/broker"));
  });
});
