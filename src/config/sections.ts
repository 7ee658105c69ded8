// Reads the `[router]`, `[storage]` and `[authorization]` tables: the ones
// the broker acts on besides the servers. Defaults are rumqttd's (as CONFIG.md
// shows them) and this broker's own for `[storage]`.
//
// Who uses it: parse-config.ts. Problems go to the Checker; nothing throws.

import { ANY_COUNT, type Checker, isTable, type Table } from "./checker.ts";
import type { KeyPath } from "./line-locator.ts";
import { resolvePath } from "./listeners.ts";
import type {
  AuthorizationConfig,
  AuthorizationRule,
  RouterConfig,
  SharedSubscriptionsStrategy,
  StorageConfig,
  SyncMode,
} from "./types.ts";

const ROUTER_KEYS = [
  "id",
  "max_connections",
  "max_outgoing_packet_count",
  "max_segment_size",
  "max_segment_count",
  "max_read_len",
  "instant_ack",
  "shared_subscriptions_strategy",
  "initialized_filters",
  "custom_segment",
] as const;
const STRATEGIES: readonly SharedSubscriptionsStrategy[] = ["roundrobin", "random", "sticky"];
const STORAGE_KEYS = ["dir", "sync", "cache_segments"] as const;
const SYNC_MODES: readonly SyncMode[] = ["fsync", "os"];
const AUTHORIZATION_KEYS = ["default", "reveal_reason", "rules"] as const;
const RULE_KEYS = ["allow", "action", "filter", "users"] as const;
const ACTIONS: readonly AuthorizationRule["action"][] = ["publish", "subscribe", "all"];
const NO_EFFECT = "accepted for compatibility with rumqttd; it has no effect";

/** A segment must hold at least one large record's header and some payload. */
const MIN_SEGMENT_BYTES = 1024;
/** Segments are read into one Buffer; stay well under Node's Buffer limit. */
const MAX_SEGMENT_BYTES = 2 ** 31 - 1;

export function readRouter(check: Checker, router: Table, brokerId: number): RouterConfig {
  const path = ["router"];
  check.knownKeys(router, path, ROUTER_KEYS);
  for (const key of ["max_read_len", "instant_ack", "initialized_filters"]) {
    if (router[key] !== undefined) check.warn([...path, key], NO_EFFECT);
  }
  readCustomSegments(check, router.custom_segment);
  const id = check.optionalInt(router, "id", path, ANY_COUNT);
  if (id !== undefined && id !== brokerId) {
    check.problem([...path, "id"], `${id} differs from the top-level id ${brokerId}: give one id`);
  }
  return {
    id: brokerId,
    maxConnections: check.int(router, "max_connections", path, 10_010, { min: 1, max: 1_000_000 }),
    maxOutgoingPacketCount: check.int(router, "max_outgoing_packet_count", path, 200, {
      min: 1,
      max: 65_535,
    }),
    maxSegmentSize: check.int(router, "max_segment_size", path, 104_857_600, {
      min: MIN_SEGMENT_BYTES,
      max: MAX_SEGMENT_BYTES,
    }),
    maxSegmentCount: check.int(router, "max_segment_count", path, 10, { min: 1, max: 1_000_000 }),
    sharedSubscriptionsStrategy: check.oneOf(
      router,
      "shared_subscriptions_strategy",
      path,
      STRATEGIES,
      "roundrobin",
    ),
    initializedFilters: check.optionalStringList(router, "initialized_filters", path) ?? [],
  };
}

/** `[router.custom_segment.'filter']` tables: checked, then one warning (no effect yet). */
function readCustomSegments(check: Checker, value: unknown): void {
  const path = ["router", "custom_segment"];
  const segments = check.table(value, path);
  if (segments === undefined) return;
  for (const [filter, settings] of Object.entries(segments)) {
    const table = check.table(settings, [...path, filter]);
    if (table === undefined) continue;
    check.knownKeys(table, [...path, filter], ["max_segment_size", "max_segment_count"]);
    check.optionalInt(table, "max_segment_size", [...path, filter], ANY_COUNT);
    check.optionalInt(table, "max_segment_count", [...path, filter], ANY_COUNT);
  }
  check.warn(path, `${NO_EFFECT}: every filter uses [router]'s segment settings`);
}

export function readStorage(check: Checker, storage: Table, configDir: string): StorageConfig {
  const path = ["storage"];
  check.knownKeys(storage, path, STORAGE_KEYS);
  const dir = check.string(storage, "dir", path, "data");
  if (dir === "") check.problem([...path, "dir"], "the data directory cannot be empty");
  return {
    dir: resolvePath(configDir, dir === "" ? "data" : dir),
    sync: check.oneOf(storage, "sync", path, SYNC_MODES, "fsync"),
    cacheSegments: check.int(storage, "cache_segments", path, 4, { min: 0, max: 1024 }),
  };
}

export function readAuthorization(check: Checker, table: Table): AuthorizationConfig {
  const path = ["authorization"];
  check.knownKeys(table, path, AUTHORIZATION_KEYS);
  const rules: AuthorizationRule[] = [];
  const list = table.rules;
  if (list !== undefined && !Array.isArray(list)) {
    check.problem([...path, "rules"], "expected a list of rules");
  }
  for (const [i, value] of (Array.isArray(list) ? list : []).entries()) {
    const rulePath = [...path, "rules", i];
    if (!isTable(value)) check.problem(rulePath, "expected a rule: { allow, action, filter }");
    else {
      const rule = readRule(check, value, rulePath);
      if (rule !== undefined) rules.push(rule);
    }
  }
  return {
    default: check.oneOf(table, "default", path, ["allow", "deny"] as const, "allow"),
    revealReason: check.bool(table, "reveal_reason", path, false),
    rules,
  };
}

function readRule(check: Checker, table: Table, path: KeyPath): AuthorizationRule | undefined {
  check.knownKeys(table, path, RULE_KEYS);
  const missing = ["allow", "action", "filter"].filter((key) => table[key] === undefined);
  for (const key of missing) check.problem(path, `missing key \`${key}\``);
  const allow = check.optionalBool(table, "allow", path);
  const action = check.oneOf(table, "action", path, ACTIONS, "all");
  const filter = check.optionalString(table, "filter", path);
  if (filter === "") check.problem([...path, "filter"], "the filter cannot be empty");
  const users = check.optionalStringList(table, "users", path);
  if (allow === undefined || filter === undefined || filter === "") return undefined;
  const rule: AuthorizationRule = { allow, action, filter };
  if (users !== undefined) rule.users = users;
  return rule;
}
