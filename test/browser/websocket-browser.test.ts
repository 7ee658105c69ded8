// End to end in a real browser: Debian's chromium (driven by playwright-core)
// loads a page from a tiny localhost HTTP server; the page connects to a
// `[ws.N]` listener with the mqtt package's browser build (one MQTT 3.1.1 and
// one MQTT 5 client), subscribes, and receives a message published from Node.
//
// Chromium is installed by .ci/run (apt-get install chromium). Without it the
// test fails under CI=true and is skipped, with a message saying why, elsewhere.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { connectTo, startTransportBroker } from "../helpers/transports.ts";

const CHROMIUM = "/usr/bin/chromium";
const MQTT_BROWSER_BUILD = new URL("../../node_modules/mqtt/dist/mqtt.min.js", import.meta.url);
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>mqtt over websocket</title></head>
<body>
<script src="/mqtt.min.js"></script>
<script>
  window.received = [];
  window.subscribed = 0;
  const url = new URLSearchParams(location.search).get("broker");
  for (const version of [4, 5]) {
    const client = mqtt.connect(url, { protocolVersion: version, clientId: "browser-" + version, reconnectPeriod: 0 });
    client.on("connect", () =>
      client.subscribe("browser/#", { qos: 1 }, (err) => { if (!err) window.subscribed++; }));
    client.on("message", (topic, payload, packet) =>
      window.received.push(version + " " + topic + " " + payload.toString() + " qos" + packet.qos));
    client.on("error", (err) => window.received.push("error " + err.message));
  }
</script>
</body></html>`;

const skip =
  !existsSync(CHROMIUM) && process.env.CI !== "true"
    ? `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test`
    : false;

test("a browser page subscribes over WebSocket with mqtt's browser build and receives a message published from Node", {
  skip,
  timeout: 60_000,
}, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (CI installs it in .ci/run)`);
  const b = await startTransportBroker(t, "ws");
  const script = await readFile(MQTT_BROWSER_BUILD);
  const http = createServer((req, res) => {
    if (req.url === "/mqtt.min.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else if (req.url?.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    // The browser may keep a connection open (keep-alive): close them all, not just the idle ones.
    http.closeAllConnections();
    return new Promise<void>((resolve) => http.close(() => resolve()));
  });
  const address = http.address();
  const httpPort = typeof address === "object" && address !== null ? address.port : 0;

  const profile = await mkdtemp(join(tmpdir(), "rumqttd-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  // One hook, in this order: a running browser would write into a profile being removed.
  t.after(async () => {
    await browser.close();
    await rm(profile, { recursive: true, force: true });
  });
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`http://127.0.0.1:${httpPort}/?broker=${encodeURIComponent(b.url(5))}`);
  await page.waitForFunction(
    () => (globalThis as unknown as { subscribed: number }).subscribed === 2,
    undefined,
    {
      timeout: 20_000,
    },
  );

  const node = await connectTo(t, b.url(5), { protocolVersion: 5, clientId: "node-publisher" });
  await node.publishAsync("browser/hello", "from node", { qos: 1 });
  await page.waitForFunction(
    () => (globalThis as unknown as { received: string[] }).received.length >= 2,
    undefined,
    { timeout: 20_000 },
  );
  const received = await page.evaluate(
    () => (globalThis as unknown as { received: string[] }).received,
  );
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(received.sort(), [
    "4 browser/hello from node qos1",
    "5 browser/hello from node qos1",
  ]);
});
