// The rumqttd command as a process: it starts on a config file, reports
// readiness with a `broker.ready` log line naming the bound ports, serves
// clients, and stops with exit 0 on SIGTERM and SIGINT. Usage and config
// problems exit 2 with a one-line cause.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import mqtt, { type IDisconnectPacket } from "mqtt";
import { ReasonCode } from "../../src/protocol/index.ts";
import { withTimeout } from "../helpers/broker.ts";
import { testCerts } from "../helpers/certs.ts";
import { CLI, CONFIG, configFile, root, startCli } from "../helpers/cli.ts";

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...CLI, ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`the CLI logs broker.ready with its ports, serves clients, and exits 0 on ${signal}, MQTT 5 clients told 0x8B`, async (t) => {
    const { file, dir } = await configFile(t, CONFIG);
    const { child, ports, lines } = await startCli(t, file);
    assert.ok((ports.v4 ?? 0) > 0 && (ports.v5 ?? 0) > 0);
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.v5}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await sub.subscribeAsync("cli/#", { qos: 1 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.v4}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const got = new Promise<string>((resolve) => sub.on("message", (_t, m) => resolve(String(m))));
    await pub.publishAsync("cli/x", "through the log", { qos: 1 });
    assert.equal(await withTimeout(got, "the message"), "through the log");
    await pub.endAsync();
    const exited = once(child, "exit");
    const disconnected = new Promise<IDisconnectPacket>((resolve) =>
      sub.once("disconnect", resolve),
    );
    child.kill(signal);
    const [code] = await withTimeout(exited, "the exit");
    const disconnect = await withTimeout(disconnected, "the DISCONNECT");
    sub.end(true);
    assert.equal(code, 0);
    assert.equal(disconnect.reasonCode, ReasonCode.ServerShuttingDown);
    assert.ok(lines.some((l) => l.event === "broker.stopped"));
    // The data directory is next to the config file.
    assert.deepEqual((await readdir(join(dir, "data"))).sort(), ["index", "log"]);
  });
}

test("an acknowledged retained message survives SIGKILL; the restarted broker sends it on subscribe", async (t) => {
  const { file } = await configFile(t, CONFIG);
  const first = await startCli(t, file);
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.ports.v4}`, {
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  await pub.publishAsync("state/door", "open", { qos: 1, retain: true });
  const killed = once(first.child, "exit");
  first.child.kill("SIGKILL");
  await withTimeout(killed, "the kill");
  pub.end(true);
  const second = await startCli(t, file);
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${second.ports.v5}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  const got = new Promise<[string, boolean]>((resolve) =>
    sub.on("message", (_t, m, packet) => resolve([String(m), packet.retain])),
  );
  await sub.subscribeAsync("state/#", { qos: 1 });
  assert.deepEqual(await withTimeout(got, "the retained message"), ["open", true]);
  sub.end(true);
  const stopped = once(second.child, "exit");
  second.child.kill("SIGTERM");
  assert.deepEqual((await withTimeout(stopped, "the exit"))[0], 0);
});

test("after SIGKILL, a persistent session comes back with its subscription and every acknowledged message", async (t) => {
  const { file } = await configFile(t, CONFIG);
  const first = await startCli(t, file);
  const options = {
    protocolVersion: 4 as const,
    reconnectPeriod: 0,
    clientId: "survivor",
    clean: false,
  };
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.ports.v4}`, options);
  await device.subscribeAsync("cmd/#", { qos: 1 });
  await device.endAsync();
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.ports.v4}`, {
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
  for (const m of sent) await pub.publishAsync("cmd/x", m, { qos: 1 });
  const killed = once(first.child, "exit");
  first.child.kill("SIGKILL");
  await withTimeout(killed, "the kill");
  pub.end(true);

  const second = await startCli(t, file);
  const received: string[] = [];
  const all = new Promise<void>((resolve) => {
    const again = mqtt.connect(`mqtt://127.0.0.1:${second.ports.v4}`, options);
    t.after(() => again.end(true));
    again.on("message", (_t, m) => {
      received.push(String(m));
      if (received.length === sent.length) resolve();
    });
  });
  await withTimeout(all, "the messages sent while the device was offline");
  assert.deepEqual(received, sent);
  const stopped = once(second.child, "exit");
  second.child.kill("SIGTERM");
  assert.equal((await withTimeout(stopped, "the exit"))[0], 0);
});

test("--check validates the config and exits 0; --version and --help exit 0", async (t) => {
  const { file } = await configFile(t, CONFIG);
  const check = run(["-c", file, "--check"]);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /ok/);
  assert.match(run(["--version"]).stdout, /^rumqttd \d+\.\d+\.\d+/);
  assert.match(run(["--help"]).stdout, /--config FILE/);
});

test("an invalid config exits 2 with every problem as file:line: key.path: message", async (t) => {
  const { file } = await configFile(
    t,
    `${CONFIG}\n[v4.2]\nlisten = "127.0.0.1:0"\n    [v4.2.connections]\n    max_paylod_size = 5\n`,
  );
  const result = run(["--check", "--config", file]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /broker\.toml:\d+: v4\.2\.connections\.max_paylod_size: /);
});

test("bad usage exits 2 with a one-line cause", () => {
  const none = run([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /--config FILE is required/);
  const unknown = run(["--frobnicate"]);
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr.trim().split("\n").length, 1);
});

test("a malformed password hash stops the start with exit 2 and file:line: key: message", async (t) => {
  const { file } = await configFile(
    t,
    `${CONFIG}\n[v5.1.connections]\nauth = { dev = "$scrypt$ln=99,r=8,p=1$AA==$AA==" }\n`,
  );
  const { status, stderr } = run(["--config", file]);
  assert.equal(status, 2);
  assert.match(
    stderr,
    new RegExp(
      `^${file}:16: v5\\.1\\.connections\\.auth\\.dev: \\$scrypt\\$ parameters out of range`,
    ),
  );
});

test("a listen address in use stops the start with exit 1, naming the config key and the address", async (t) => {
  const taken = createServer();
  taken.listen(0, "127.0.0.1");
  await once(taken, "listening");
  t.after(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const { file } = await configFile(t, CONFIG.replace('"127.0.0.1:0"', `"127.0.0.1:${port}"`));
  const { status, stderr } = run(["--config", file]);
  assert.equal(status, 1, stderr);
  assert.match(
    stderr,
    new RegExp(
      `^rumqttd: ${file}:10: v4\\.1\\.listen: address 127\\.0\\.0\\.1:${port} in use \\(EADDRINUSE\\)$`,
      "m",
    ),
  );
});

test("a TLS file that cannot be read stops the start with exit 2 naming file, line and key", async (t) => {
  const { file } = await configFile(
    t,
    `${CONFIG}\n[v4.2]\nlisten = "127.0.0.1:0"\n    [v4.2.tls]\n    certpath = "nowhere/server.pem"\n    keypath = "nowhere/server.key"\n`,
  );
  const { status, stderr } = run(["--check", "--config", file]);
  assert.equal(status, 2);
  assert.match(
    stderr,
    new RegExp(
      `^${file}:18: v4\\.2\\.tls\\.certpath: cannot read .*nowhere/server\\.pem \\(ENOENT\\)`,
      "m",
    ),
  );
  assert.match(stderr, new RegExp(`^${file}:19: v4\\.2\\.tls\\.keypath: cannot read `, "m"));
});

test("TLS, WebSocket and [authorization] tables run: --check passes and broker.ready lists every listener", async (t) => {
  const certs = testCerts();
  const { file } = await configFile(
    t,
    `${CONFIG}
[v4.2]
listen = "127.0.0.1:0"
    [v4.2.tls]
    certpath = "${certs.serverCertPath}"
    keypath = "${certs.serverKeyPath}"

[ws.1]
listen = "127.0.0.1:0"

[authorization]
default = "deny"
rules = [{ allow = true, action = "all", filter = "open/#" }]
`,
  );
  const check = run(["--check", "--config", file]);
  assert.equal(check.status, 0, check.stderr);
  const { child, lines } = await startCli(t, file);
  const ready = lines.find((l) => l.event === "broker.ready") as {
    listeners: Array<{ name: string; kind: string; tls: boolean; port: number }>;
  };
  assert.deepEqual(
    ready.listeners.map((l) => `${l.name} ${l.kind} ${l.tls}`),
    ["v4-1 v4 false", "v4-2 v4 true", "v5-1 v5 false", "ws-1 ws false"],
  );
  const ws = ready.listeners.find((l) => l.kind === "ws");
  const c = await mqtt.connectAsync(`ws://127.0.0.1:${ws?.port}`, {
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  t.after(() => c.end(true));
  const denied = await c.subscribeAsync("closed/x", { qos: 0 }).then(
    () => false,
    () => true,
  );
  assert.ok(denied, "the [authorization] default deny applies");
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  assert.equal((await withTimeout(exited, "the exit"))[0], 0);
});
