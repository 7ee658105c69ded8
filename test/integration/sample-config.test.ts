// rumqttd's own sample config (new syntax) loads unchanged. As written it
// names TLS files under /etc/tls, which the start refuses with the keys that
// name them; with those paths pointed at certificates made here, every
// listener serves clients: v4.1 and v5.1 (TCP), v4.2 (TLS with client
// certificates) and ws.1 (WebSocket), on port 0 and a temporary data directory.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import { planListeners, startBroker } from "../../src/broker.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/log.ts";
import { RawClient, SAFETY_TIMEOUT_MS, withTimeout } from "../helpers/broker.ts";
import { testCerts } from "../helpers/certs.ts";
import { tlsConfig } from "../helpers/transports.ts";

const SAMPLE = new URL("../fixtures/config/rumqttd-sample.toml", import.meta.url).pathname;

test("rumqttd's sample config refuses to start while its TLS files are missing, naming each key", async () => {
  const config = await loadConfig(SAMPLE);
  assert.throws(
    () => planListeners(config),
    (error: { code?: string; problems?: string[] }) => {
      assert.equal(error.code, "ERR_CONFIG_INVALID");
      for (const key of ["capath", "certpath", "keypath"]) {
        assert.ok(
          error.problems?.some((p) => p.includes(`v4.2.tls.${key}: cannot read /etc/tls/`)),
          `${key} named in ${error.problems}`,
        );
      }
      assert.ok(error.problems?.every((p) => p.startsWith(`${SAMPLE}:5`)));
      return true;
    },
  );
});

test("rumqttd's sample config with its TLS files present serves on every listener: TCP, TLS and WebSocket", async (t) => {
  const config = await loadConfig(SAMPLE);
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-sample-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const local = {
    ...config,
    storage: { ...config.storage, dir: join(dir, "data") },
    listeners: config.listeners.map((l) => ({
      ...l,
      host: "127.0.0.1",
      port: 0,
      ...(l.tls === undefined ? {} : { tls: tlsConfig({ clientCertificates: true }) }),
    })),
  };
  const broker = await startBroker(local, createLogger({ level: "silent" }));
  t.after(() => broker.close());
  const port = (name: string) => broker.addresses.find((a) => a.name === name)?.port ?? 0;
  assert.deepEqual(broker.addresses.map((a) => `${a.name}:${a.kind}:${a.tls}`).sort(), [
    "v4-1:v4:false",
    "v4-2:v4:true",
    "v5-1:v5:false",
    "ws-1:ws:false",
  ]);
  const raw = await RawClient.open(t, port("v4-1"), 4);
  const ack = await raw.connect({
    clientId: "sample",
    username: "user1",
    password: Buffer.from("p@ssw0rd"),
  });
  assert.equal(ack.cmd === "connack" && ack.returnCode, 0);
  const certs = testCerts();
  const withCert = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
  // (mqtt.js turns ws:// into wss:// when given a certificate: only the TLS client gets one.)
  for (const [url, tls] of [
    [`mqtts://127.0.0.1:${port("v4-2")}`, withCert],
    [`ws://127.0.0.1:${port("ws-1")}`, {}],
  ] as const) {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: SAFETY_TIMEOUT_MS,
      ...tls,
    });
    t.after(() => client.end(true));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.once("connect", () => resolve());
        client.once("error", reject);
      }),
      `CONNACK on ${url}`,
    );
  }
});
