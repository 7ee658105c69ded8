// How two topic filters relate, for authorization rules (pure functions):
// whether every topic one filter matches is matched by the other (a
// subscription an allow rule covers), and whether any topic is matched by
// both (a subscription a deny rule touches). Both follow the matching rules
// of spec 4.7: '#' matches its parent level too ('a/#' matches 'a'), and a
// filter starting with a wildcard never matches a topic starting with '$'
// ([MQTT-4.7.2-1]).
//
// Who calls it: authorizer.ts. Inputs are valid topic filters.

/** True when every topic that `inner` matches is also matched by `outer`. */
export function filterWithin(inner: string, outer: string): boolean {
  const a = inner.split("/");
  const b = outer.split("/");
  // [MQTT-4.7.2-1] Topics starting with '$' that `inner` names are not matched by a leading wildcard.
  if (dollarAgainstWildcard(a[0], b[0])) return false;
  for (let i = 0; i < b.length; i++) {
    const o = b[i] as string;
    if (o === "#") return true;
    const n = a[i];
    if (n === undefined) return false;
    // Inner '#' also matches the parent level, so only an outer '#' covers it; at the first
    // level there is no parent, and an outer '+/#' covers every topic '#' does.
    if (n === "#") return i === 0 && o === "+" && b.length === 2 && b[1] === "#";
    if (o === "+") continue;
    if (n !== o) return false;
  }
  return a.length === b.length;
}

/** True when at least one topic is matched by both filters. */
export function filtersOverlap(first: string, second: string): boolean {
  const a = first.split("/");
  const b = second.split("/");
  // [MQTT-4.7.2-1] A '$' topic that one filter names cannot match the other's leading wildcard.
  if (dollarAgainstWildcard(a[0], b[0]) || dollarAgainstWildcard(b[0], a[0])) return false;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === "#" || y === "#") return true;
    // One filter ended: they share a topic only if the other ends here with '/#' ('a' and 'a/#').
    if (x === undefined || y === undefined) return false;
    if (x === "+" || y === "+") continue;
    if (x !== y) return false;
  }
  return true;
}

function isWildcard(level: string | undefined): boolean {
  return level === "+" || level === "#";
}

function dollarAgainstWildcard(literal: string | undefined, other: string | undefined): boolean {
  return literal?.startsWith("$") === true && isWildcard(other);
}
