// Topic names and topic filters: validation and matching (MQTT 3.1.1 section
// 4.7, MQTT 5 section 4.7). Pure functions; the router's subscription tree and
// the link's packet checks call them.
//
// Validation returns the name of the violated rule instead of throwing, so a
// caller can choose between a ProtocolError (malformed PUBLISH) and a reason
// code in an ack (a bad filter in SUBSCRIBE).

/** [MQTT-4.7.3-3] Topic names and filters are at most 65,535 bytes of UTF-8. */
export const MAX_TOPIC_BYTES = 65_535;

export type TopicProblem =
  | "empty"
  | "too_long"
  | "null_character"
  | "wildcard_in_topic"
  | "misplaced_multi_level_wildcard"
  | "misplaced_single_level_wildcard";

function commonProblem(text: string): TopicProblem | undefined {
  // [MQTT-4.7.3-1] All topic names and topic filters must be at least one character long.
  if (text.length === 0) return "empty";
  // [MQTT-4.7.3-3] At most 65,535 bytes; a JS string has at most 3 bytes per UTF-16 unit.
  if (text.length * 3 > MAX_TOPIC_BYTES && Buffer.byteLength(text, "utf8") > MAX_TOPIC_BYTES) {
    return "too_long";
  }
  // [MQTT-4.7.3-2] / [MQTT-1.5.3-2] Must not include the null character U+0000.
  if (text.includes("\u0000")) return "null_character";
  return undefined;
}

/** Checks a PUBLISH topic name; undefined when valid. */
export function topicNameProblem(topic: string): TopicProblem | undefined {
  const problem = commonProblem(topic);
  if (problem !== undefined) return problem;
  // [MQTT-3.3.2-2] / [MQTT-4.7.1-1] The topic name in a PUBLISH must not contain wildcards.
  if (topic.includes("+") || topic.includes("#")) return "wildcard_in_topic";
  return undefined;
}

/** Checks a SUBSCRIBE/UNSUBSCRIBE topic filter; undefined when valid. */
export function topicFilterProblem(filter: string): TopicProblem | undefined {
  const problem = commonProblem(filter);
  if (problem !== undefined) return problem;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes("#")) {
      // [MQTT-4.7.1-2] '#' must be the last character, alone in its level.
      if (level !== "#" || i !== levels.length - 1) return "misplaced_multi_level_wildcard";
    }
    // [MQTT-4.7.1-3] '+' must occupy an entire level of the filter.
    if (level.includes("+") && level !== "+") return "misplaced_single_level_wildcard";
  }
  return undefined;
}

/**
 * True when `topic` (a valid topic name) matches `filter` (a valid filter).
 * [MQTT-4.7.2-1] A filter starting with a wildcard never matches a topic that
 * starts with '$'. 'a/#' matches 'a' too (spec 4.7.1.2, the parent level).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
