// The `[authorization]` rules (../shared/CONFIG.md): an ordered list of
// { allow, action, filter, users? }, the first rule that matches decides,
// `default` decides when none does. `%c` in a rule's filter stands for the
// client id, `%u` for the user name (the client certificate's identity on a
// listener that verifies client certificates).
//
// Matching, written down because CONFIG.md leaves it open:
// - publish (and a will): the rule's filter matches the topic.
// - subscribe, allow rule: the subscription's filter lies wholly inside the
//   rule's filter (`devices/c1/#` allows `devices/c1/+/temp`, not `devices/#`).
// - subscribe, deny rule: the two filters share at least one topic, so that
//   `test/#` cannot be used to read what a rule denies on `test/nosubscribe`.
//   A `$share/group/` prefix is taken off first.
// - A placeholder that cannot be filled safely (no user name, or a value
//   holding '/', '+' or '#', which would widen the filter) makes an allow rule
//   not match and a deny rule match: it never grants, it may refuse.
//
// Who calls it: broker.ts builds one from the config and hands it to every
// link (the link calls `allows`). It imports only src/protocol. Pure: no I/O.

import { topicFilterProblem, topicMatches } from "../protocol/index.ts";
import { filtersOverlap, filterWithin } from "./filter-relations.ts";

export type AccessAction = "publish" | "subscribe";

export interface AccessRule {
  allow: boolean;
  action: AccessAction | "all";
  filter: string;
  users?: string[];
}

export interface AuthorizerOptions {
  defaultAllow: boolean;
  revealReason: boolean;
  rules: AccessRule[];
}

/** Who is asking: the client id and the user name (or certificate identity), if any. */
export interface AccessIdentity {
  clientId: string;
  username: string | undefined;
}

export interface RuleProblem {
  /** The rule's position in `rules`. */
  index: number;
  message: string;
}

const SHARED_PREFIX = "$share/";
const PLACEHOLDER = /%[cu]/g;
const UNSAFE_IN_PLACEHOLDER = /[/+#]/;

export class Authorizer {
  readonly revealReason: boolean;
  readonly #defaultAllow: boolean;
  readonly #rules: readonly AccessRule[];

  private constructor(options: AuthorizerOptions) {
    this.revealReason = options.revealReason;
    this.#defaultAllow = options.defaultAllow;
    this.#rules = options.rules;
  }

  /** The authorizer, or the problems of the rules that cannot be used (bad filters). */
  static create(options: AuthorizerOptions): Authorizer | RuleProblem[] {
    const problems: RuleProblem[] = [];
    options.rules.forEach((rule, index) => {
      // Placeholders are filled with safe values only, so any stand-in letter checks the shape.
      const problem = topicFilterProblem(rule.filter.replace(PLACEHOLDER, "x"));
      if (problem !== undefined)
        problems.push({ index, message: `not a valid filter: ${problem}` });
    });
    return problems.length > 0 ? problems : new Authorizer(options);
  }

  /**
   * Whether `who` may publish to `name` (a topic) or subscribe to `name` (a
   * filter). `name` must already be a valid topic name or filter.
   */
  allows(action: AccessAction, name: string, who: AccessIdentity): boolean {
    const target = action === "subscribe" ? withoutSharePrefix(name) : name;
    for (const rule of this.#rules) {
      if (rule.action !== "all" && rule.action !== action) continue;
      if (rule.users !== undefined && !isListed(rule.users, who.username)) continue;
      if (ruleMatches(rule, action, target, who)) return rule.allow;
    }
    return this.#defaultAllow;
  }
}

function ruleMatches(
  rule: AccessRule,
  action: AccessAction,
  target: string,
  who: AccessIdentity,
): boolean {
  const filter = fillPlaceholders(rule.filter, who);
  // An unfillable placeholder never grants and always refuses.
  if (filter === undefined) return !rule.allow;
  if (action === "publish") return topicMatches(filter, target);
  return rule.allow ? filterWithin(target, filter) : filtersOverlap(target, filter);
}

function isListed(users: readonly string[], username: string | undefined): boolean {
  return username !== undefined && users.includes(username);
}

/** The rule's filter with `%c` and `%u` filled in; undefined when a value is missing or unsafe. */
function fillPlaceholders(filter: string, who: AccessIdentity): string | undefined {
  let unsafe = false;
  const filled = filter.replace(PLACEHOLDER, (placeholder) => {
    const value = placeholder === "%c" ? who.clientId : who.username;
    if (value === undefined || value === "" || UNSAFE_IN_PLACEHOLDER.test(value)) {
      unsafe = true;
      return "";
    }
    return value;
  });
  return unsafe ? undefined : filled;
}

/** `$share/group/a/b` -> `a/b`: access is decided on the filter itself. */
function withoutSharePrefix(filter: string): string {
  if (!filter.startsWith(SHARED_PREFIX)) return filter;
  const rest = filter.slice(SHARED_PREFIX.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? filter : rest.slice(slash + 1);
}
