// The config loader: every key of the new syntax (CONFIG.md) with its type,
// range and default; problems printed as `file:line: key.path: message`, all
// at once; old-syntax files refused with a pointer to rumqttd-migrate.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type Config, parseConfig } from "../../src/config/index.ts";
import { ConfigError } from "../../src/errors.ts";

const FILE = "/etc/rumqttd/broker.toml";
const MINIMAL = '[router]\n[v4.1]\nlisten = "0.0.0.0:1883"\n';

function problems(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, "ERR_CONFIG_INVALID");
    return [...err.problems];
  }
  assert.fail("expected a ConfigError");
}

function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1, `expected one item, got ${JSON.stringify(list)}`);
  return list[0] as T;
}

test("a minimal file gets rumqttd's defaults and this broker's storage defaults", () => {
  const config = parseConfig(MINIMAL, FILE);
  assert.equal(config.file, FILE);
  assert.equal(config.id, 0);
  assert.deepEqual(config.router, {
    id: 0,
    maxConnections: 10_010,
    maxOutgoingPacketCount: 200,
    maxSegmentSize: 104_857_600,
    maxSegmentCount: 10,
    sharedSubscriptionsStrategy: "roundrobin",
    initializedFilters: [],
  });
  assert.deepEqual(config.storage, { dir: "/etc/rumqttd/data", sync: "fsync", cacheSegments: 4 });
  const listener = only(config.listeners);
  assert.deepEqual(listener, {
    kind: "v4",
    key: "1",
    name: "v4-1",
    host: "0.0.0.0",
    port: 1883,
    nextConnectionDelayMs: 1,
    connections: {
      connectionTimeoutMs: 60_000,
      maxClientIdLen: 256,
      throttleDelayMs: 0,
      maxPayloadSize: 20_480,
      maxInflightCount: 100,
      maxInflightSize: 1024,
      dynamicFilters: true,
      maxKeepAliveSec: 65_535,
      topicAliasMax: 10,
      receiveMaximum: 100,
    },
  });
  assert.deepEqual(config.warnings, []);
  assert.equal(config.console, undefined);
  assert.equal(config.authorization, undefined);
});

test("every key this broker acts on is read with its value", () => {
  const config = parseConfig(
    `id = 3
[router]
id = 3
max_connections = 5
max_outgoing_packet_count = 7
max_segment_size = 2048
max_segment_count = 2
shared_subscriptions_strategy = "sticky"
initialized_filters = ["a/+/b", "c/#"]
[storage]
dir = "/var/lib/broker"
sync = "os"
cache_segments = 0
[v5.main]
name = "main"
listen = "[::1]:0"
next_connection_delay_ms = 0
  [v5.main.tls]
  pkcs12path = "certs/server.p12"
  pkcs12pass = "secret"
  capath = "/ca.pem"
  [v5.main.connections]
  connection_timeout_ms = 1000
  max_client_id_len = 23
  max_payload_size = 100
  max_inflight_count = 5
  auth = { alice = "a", "bob smith" = "b" }
  max_keep_alive = 60
  topic_alias_max = 0
  receive_maximum = 20
[authorization]
default = "deny"
reveal_reason = true
rules = [
  { allow = true, action = "publish", filter = "telemetry/#", users = ["alice"] },
  { allow = false, action = "subscribe", filter = "test/nosubscribe" },
]
`,
    FILE,
  );
  assert.equal(config.id, 3);
  assert.equal(config.router.maxConnections, 5);
  assert.equal(config.router.maxOutgoingPacketCount, 7);
  assert.equal(config.router.maxSegmentSize, 2048);
  assert.equal(config.router.maxSegmentCount, 2);
  assert.equal(config.router.sharedSubscriptionsStrategy, "sticky");
  assert.deepEqual(config.router.initializedFilters, ["a/+/b", "c/#"]);
  assert.deepEqual(config.storage, { dir: "/var/lib/broker", sync: "os", cacheSegments: 0 });
  const listener = only(config.listeners);
  assert.equal(listener.name, "main");
  assert.equal(listener.host, "::1");
  assert.equal(listener.port, 0);
  assert.equal(listener.nextConnectionDelayMs, 0);
  assert.deepEqual(listener.tls, {
    pkcs12Path: "/etc/rumqttd/certs/server.p12",
    pkcs12Pass: "secret",
    caPath: "/ca.pem",
  });
  assert.deepEqual({ ...listener.connections.auth }, { alice: "a", "bob smith": "b" });
  assert.equal(listener.connections.connectionTimeoutMs, 1000);
  assert.equal(listener.connections.maxClientIdLen, 23);
  assert.equal(listener.connections.maxPayloadSize, 100);
  assert.equal(listener.connections.maxInflightCount, 5);
  assert.equal(listener.connections.maxKeepAliveSec, 60);
  assert.equal(listener.connections.topicAliasMax, 0);
  assert.equal(listener.connections.receiveMaximum, 20);
  assert.deepEqual(config.authorization, {
    default: "deny",
    revealReason: true,
    rules: [
      { allow: true, action: "publish", filter: "telemetry/#", users: ["alice"] },
      { allow: false, action: "subscribe", filter: "test/nosubscribe" },
    ],
  });
});

test("PEM TLS paths are resolved against the config file's folder", () => {
  const config = parseConfig(
    `${MINIMAL}[v4.1.tls]\ncertpath = "tls/server.pem"\nkeypath = "../server.key"\n`,
    FILE,
  );
  assert.deepEqual(only(config.listeners).tls, {
    certPath: "/etc/rumqttd/tls/server.pem",
    keyPath: "/etc/server.key",
  });
});

test("listen takes host names, IPv4 and bracketed IPv6, and refuses the rest", () => {
  const listen = (value: string) => parseConfig(`[router]\n[ws.1]\nlisten = "${value}"\n`, FILE);
  assert.deepEqual(pick(listen("localhost:8083")), { host: "localhost", port: 8083 });
  assert.deepEqual(pick(listen("[::]:1883")), { host: "::", port: 1883 });
  for (const bad of ["0.0.0.0", "::1:1883", "host:99999", "bad host:1", "[nope]:1", ":1883"]) {
    const line = only(problems(`[router]\n[ws.1]\nlisten = "${bad}"\n`));
    assert.match(line, /^\/etc\/rumqttd\/broker\.toml:3: ws\.1\.listen: /, bad);
  }
});

function pick(config: Config): { host: string; port: number } {
  const { host, port } = only(config.listeners);
  return { host, port };
}

test("the older prometheus `port = N` means 127.0.0.1:N", () => {
  const config = parseConfig(`${MINIMAL}[prometheus]\nport = 9042\n`, FILE);
  assert.deepEqual(config.prometheus, { host: "127.0.0.1", port: 9042, intervalSec: 1 });
});

test("empty tables such as a bare [ws] mean none of these", () => {
  const config = parseConfig(`${MINIMAL}[ws]\n[v5]\n[console]\n[prometheus]\n[bridge]\n`, FILE);
  assert.equal(config.listeners.length, 1);
  assert.equal(config.console, undefined);
  assert.equal(config.prometheus, undefined);
  assert.deepEqual(config.warnings, []);
});

test("a file with no server table is refused: nothing to listen on", () => {
  const line = only(problems("[router]\n[ws]\n"));
  assert.match(line, /^\/etc\/rumqttd\/broker\.toml: nothing to listen on/);
});

test("the [router] table is required", () => {
  assert.match(only(problems('[v4.1]\nlisten = "0.0.0.0:1"\n')), /missing the \[router\] table/);
});

test("an unknown key names its path and line, with a hint when a known key is close", () => {
  const line = only(problems(`${MINIMAL}[v4.1.connections]\nmax_paylod_size = 10\n`));
  assert.equal(
    line,
    "/etc/rumqttd/broker.toml:5: v4.1.connections.max_paylod_size: unknown key (did you mean `max_payload_size`?)",
  );
  assert.equal(
    only(problems(`${MINIMAL}wat = 1\n`)),
    "/etc/rumqttd/broker.toml:4: v4.1.wat: unknown key",
  );
});

test("wrong types and values out of range are errors that say what was found", () => {
  const lines = problems(`[router]
max_segment_size = 1.5
max_connections = 0
instant_ack = "yes"
[storage]
sync = "never"
[v4.1]
listen = 1883
  [v4.1.connections]
  dynamic_filters = 1
  topic_alias_max = 70000
`);
  assert.deepEqual(lines, [
    "/etc/rumqttd/broker.toml:2: router.max_segment_size: expected an integer, found the float 1.5",
    "/etc/rumqttd/broker.toml:3: router.max_connections: 0 is out of range (1 to 1000000)",
    '/etc/rumqttd/broker.toml:6: storage.sync: "never" is not one of "fsync", "os"',
    "/etc/rumqttd/broker.toml:8: v4.1.listen: expected a string, found the integer 1883",
    "/etc/rumqttd/broker.toml:10: v4.1.connections.dynamic_filters: expected true or false, found the integer 1",
    "/etc/rumqttd/broker.toml:11: v4.1.connections.topic_alias_max: 70000 is out of range (0 to 65535)",
  ]);
});

test("all problems are reported at once, in file order", () => {
  const lines = problems(`[router]
max_conections = 1
[v4.1]
listen = "0.0.0.0:1883"
[v4.2]
listen = "0.0.0.0:1883"
  [v4.2.tls]
  certpath = "a.pem"
[authorization]
rules = [{ allow = true, action = "read", filter = "" }]
`);
  assert.equal(lines.length, 5, lines.join("\n"));
  assert.match(
    lines[0] ?? "",
    /:2: router\.max_conections: unknown key \(did you mean `max_connections`\?\)/,
  );
  assert.match(
    lines[1] ?? "",
    /:6: v4\.2\.listen: 0\.0\.0\.0:1883 is also where \[v4\.1\] listens/,
  );
  assert.match(lines[2] ?? "", /:7: v4\.2\.tls: certpath and keypath go together/);
});

test("TLS needs a certificate, and PEM and PKCS#12 exclude each other", () => {
  assert.match(
    only(problems(`${MINIMAL}[v4.1.tls]\ncapath = "ca.pem"\n`)),
    /missing the server certificate/,
  );
  assert.match(
    only(problems(`${MINIMAL}[v4.1.tls]\ncertpath = "a"\nkeypath = "b"\npkcs12path = "c"\n`)),
    /not both/,
  );
});

test("an empty tls table is an error naming it, not a listener serving plain text", () => {
  assert.equal(
    only(problems(`${MINIMAL}[v4.2]\nlisten = "0.0.0.0:8883"\n  [v4.2.tls]\n`)),
    `${FILE}:6: v4.2.tls: an empty tls table: TLS needs certpath and keypath, or pkcs12path (remove the table for plain TCP)`,
  );
  assert.match(
    only(problems(`${MINIMAL}[ws.1]\nlisten = "0.0.0.0:8083"\ntls = {}\n`)),
    /:6: ws\.1\.tls: an empty tls table: TLS needs certpath and keypath, or pkcs12path/,
  );
});

test("router.id must agree with the top-level id", () => {
  assert.match(
    only(problems(`id = 1\n${MINIMAL.replace("[router]", "[router]\nid = 2")}`)),
    /:3: router\.id: 2 differs/,
  );
  assert.equal(parseConfig(MINIMAL.replace("[router]", "[router]\nid = 4"), FILE).id, 4);
});

test("broken TOML is reported with smol-toml's line", () => {
  assert.match(
    only(problems("[router]\nid = = 1\n")),
    /^\/etc\/rumqttd\/broker\.toml:2: not valid TOML: /,
  );
});

test("an old-syntax file is refused with one line that names rumqttd-migrate FILE", () => {
  for (const text of [
    '[router]\ndir = "/tmp/x"\n[servers.1]\nlisten = "0.0.0.0:1883"\n',
    '[router]\n[cluster.0]\naddress = "localhost:1800"\n',
    "[router]\n[replicator]\nconnection_timeout_ms = 100\n",
  ]) {
    assert.throws(
      () => parseConfig(text, "old.toml"),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.code === "ERR_CONFIG_OLD_SYNTAX" &&
        err.problems.length === 1 &&
        err.message.includes("rumqttd-migrate old.toml"),
    );
  }
});

test("a mixed file (old [servers] beside new [v4]) gets an unknown-key error that names the migration", () => {
  const line = only(problems(`${MINIMAL}[servers.1]\nlisten = "0.0.0.0:1884"\n`));
  assert.match(
    line,
    /:4: servers: unknown key \(rumqttd's old syntax: convert it with rumqttd-migrate\)/,
  );
});

test("rumqttd's own sample config loads unchanged, with one warning per key without effect", () => {
  const file = new URL("../fixtures/config/rumqttd-sample.toml", import.meta.url).pathname;
  const config = parseConfig(readFileSync(file, "utf8"), file);
  assert.deepEqual(
    config.listeners.map((l) => l.name),
    ["v4-1", "v4-2", "v5-1", "ws-1"],
  );
  assert.deepEqual(config.prometheus, { host: "127.0.0.1", port: 9042, intervalSec: 1 });
  assert.deepEqual(config.console, { host: "0.0.0.0", port: 3030 });
  assert.deepEqual(
    config.warnings.map((w) => w.keyPath),
    [
      "router.max_read_len",
      "router.instant_ack",
      "router.initialized_filters",
      "router.custom_segment",
      "bridge",
      "v4.1.connections.dynamic_filters",
      "v4.2.connections.throttle_delay_ms",
      "v4.2.connections.max_inflight_size",
      "prometheus",
      "ws.1.connections.throttle_delay_ms",
      "ws.1.connections.max_inflight_size",
      "console",
      "metrics.alerts",
      "metrics.meters",
      "cluster",
    ],
  );
  for (const warning of config.warnings) assert.match(warning.text, /rumqttd-sample\.toml:\d+: /);
});

test("topic_alias_max is read without a warning now that topic aliases are accepted", () => {
  const config = parseConfig(
    `${MINIMAL}[v5.1]\nlisten = "0.0.0.0:1884"\n[v5.1.connections]\ntopic_alias_max = 7\n`,
    "/etc/rumqttd/ta.toml",
  );
  assert.deepEqual(config.warnings, []);
  assert.equal(config.listeners.find((l) => l.kind === "v5")?.connections.topicAliasMax, 7);
});

test("router.shared_subscriptions_strategy is one of roundrobin, random, sticky", () => {
  for (const strategy of ["roundrobin", "random", "sticky"] as const) {
    const config = parseConfig(
      MINIMAL.replace("[router]", `[router]\nshared_subscriptions_strategy = "${strategy}"`),
      FILE,
    );
    assert.equal(config.router.sharedSubscriptionsStrategy, strategy);
  }
  assert.equal(
    only(problems(MINIMAL.replace("[router]", '[router]\nshared_subscriptions_strategy = "rr"'))),
    '/etc/rumqttd/broker.toml:2: router.shared_subscriptions_strategy: "rr" is not one of "roundrobin", "random", "sticky"',
  );
});
