// TLS listeners: client certificates required and verified with `capath`
// (a client without one, or with one from a CA the broker does not trust, is
// refused in the handshake), a PKCS#12 server certificate, the client
// certificate's CN as the identity `[authorization]` rules see, files that
// cannot be used stopping the start with their key, and the TLS and
// WebSocket handshakes counting against connection_timeout_ms.
import assert from "node:assert/strict";
import { once } from "node:events";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startBroker } from "../../src/broker.ts";
import { createLogger } from "../../src/log.ts";
import { ReasonCode } from "../../src/protocol/index.ts";
import { withTimeout } from "../helpers/broker.ts";
import { CLIENT_CN, testCerts } from "../helpers/certs.ts";
import {
  connectTo,
  refusedCode,
  startTransportBroker,
  subackCodes,
  transportConfig,
} from "../helpers/transports.ts";

for (const transport of ["tls", "wss"] as const) {
  test(`${transport} with capath: a client with a certificate from the CA is served`, async (t) => {
    const b = await startTransportBroker(t, transport, { clientCertificates: true });
    const c = await connectTo(t, b.url(5), b.clientOptions(5, true));
    assert.ok(c.connected);
  });

  test(`${transport} with capath: a client without a certificate is refused in the handshake`, async (t) => {
    const b = await startTransportBroker(t, transport, { clientCertificates: true });
    const code = await refusedCode(t, b.url(4), {
      ...b.clientOptions(4, false),
      clientId: "nocert",
    });
    assert.equal(code, undefined, "no CONNACK: the TLS handshake failed");
  });

  test(`${transport} with capath: a certificate from another CA is refused in the handshake`, async (t) => {
    const b = await startTransportBroker(t, transport, { clientCertificates: true });
    const certs = testCerts();
    const code = await refusedCode(t, b.url(4), {
      ...b.clientOptions(4, false),
      cert: certs.strangerCert,
      key: certs.strangerKey,
    });
    assert.equal(code, undefined, "no CONNACK: the TLS handshake failed");
  });
}

test("a PKCS#12 server certificate (pkcs12path, pkcs12pass) serves TLS clients", async (t) => {
  const b = await startTransportBroker(t, "tls", { pkcs12: true });
  const c = await connectTo(t, b.url(4), b.clientOptions(4));
  assert.ok(c.connected);
});

test("the client certificate's CN is the user name authorization rules see (%u)", async (t) => {
  const b = await startTransportBroker(t, "tls", {
    clientCertificates: true,
    authorization: {
      default: "deny",
      revealReason: true,
      rules: [{ allow: true, action: "all", filter: "devices/%u/#" }],
    },
  });
  // The CONNECT's own user name does not matter: the certificate's identity does.
  const c = await connectTo(t, b.url(5), { ...b.clientOptions(5, true), username: "other" });
  assert.deepEqual(await subackCodes(c, `devices/${CLIENT_CN}/#`, 1), [1]);
  assert.deepEqual(await subackCodes(c, "devices/other/#", 1), [ReasonCode.NotAuthorized]);
});

async function startRefusal(
  t: import("node:test").TestContext,
  edit: (dir: string, tls: Record<string, string>) => Promise<void>,
) {
  const dir = await mkdtemp(join(tmpdir(), "rumqttd-tlsfiles-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = transportConfig(dir, "tls");
  const tls = {} as Record<string, string>;
  await edit(dir, tls);
  const listeners = config.listeners.map((l) => ({ ...l, tls }));
  return startBroker({ ...config, listeners }, createLogger({ level: "silent" })).then(
    () => assert.fail("the broker started"),
    (error: { code?: string; problems?: string[] }) => error,
  );
}

test("a missing certificate file stops the start with its key and path", async (t) => {
  const error = await startRefusal(t, async (dir, tls) => {
    tls.certPath = join(dir, "nowhere.pem");
    tls.keyPath = testCerts().serverKeyPath;
  });
  assert.equal(error.code, "ERR_CONFIG_INVALID");
  assert.ok(
    error.problems?.some((p) => /v4\.1\.tls\.certpath: cannot read .*nowhere\.pem/.test(p)),
  );
});

test("a key that is not a key, or does not match the certificate, stops the start naming keypath", async (t) => {
  const certs = testCerts();
  const garbage = await startRefusal(t, async (dir, tls) => {
    await writeFile(join(dir, "key.pem"), "not a key\n");
    tls.certPath = certs.serverCertPath;
    tls.keyPath = join(dir, "key.pem");
  });
  assert.ok(garbage.problems?.some((p) => p.includes("v4.1.tls.keypath:")));
  const mismatch = await startRefusal(t, async (dir, tls) => {
    await copyFile(join(certs.dir, "client.key.pem"), join(dir, "other.key.pem"));
    tls.certPath = certs.serverCertPath;
    tls.keyPath = join(dir, "other.key.pem");
  });
  assert.ok(mismatch.problems?.some((p) => p.includes("v4.1.tls.keypath:") && p.includes("match")));
});

test("a wrong PKCS#12 password stops the start naming pkcs12pass", async (t) => {
  const error = await startRefusal(t, async (_dir, tls) => {
    tls.pkcs12Path = testCerts().pkcs12Path;
    tls.pkcs12Pass = "not the password";
  });
  assert.ok(error.problems?.some((p) => p.includes("v4.1.tls.pkcs12pass:")));
});

for (const transport of ["tls", "ws", "wss"] as const) {
  test(`${transport}: a client that never finishes its handshake is closed after connection_timeout_ms`, async (t) => {
    const b = await startTransportBroker(t, transport, {
      connections: { connectionTimeoutMs: 300 },
    });
    const port = Number(new URL(b.url(4)).port);
    const socket = netConnect({ host: "127.0.0.1", port });
    t.after(() => socket.destroy());
    socket.on("error", () => undefined);
    await once(socket, "connect");
    const startedMs = Date.now();
    // Half a handshake: a TLS record header, or an HTTP request line without its end.
    socket.write(transport === "ws" ? "GET / HTTP/1.1\r\n" : Buffer.from([0x16, 0x03, 0x01]));
    await withTimeout(once(socket, "close"), "the broker to close the connection");
    const elapsedMs = Date.now() - startedMs;
    assert.ok(elapsedMs >= 250 && elapsedMs < 2000, `closed after ${elapsedMs} ms`);
  });
}
