// Issue 4, wills: the CLI is killed (SIGKILL) while wills are pending and
// restarted on the same data directory; every will of a persistent session
// is published after the restart: one whose client had dropped its
// connection (will delay running), and one whose client was still connected
// at the kill (its connection went with the broker). A watcher session
// subscribed before the kill receives both.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import mqtt from "mqtt";
import { RawClient, withTimeout } from "../helpers/broker.ts";
import { CONFIG, configFile, startCli } from "../helpers/cli.ts";

const watcherOptions = {
  protocolVersion: 5 as const,
  reconnectPeriod: 0,
  clientId: "watcher",
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
};

function deviceFields(clientId: string) {
  return {
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    will: {
      topic: `will/${clientId}`,
      payload: Buffer.from("gone"),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: 1 },
    },
  };
}

test("after SIGKILL, the wills of persistent sessions (connection dropped, or still connected) are published", async (t) => {
  const { file } = await configFile(t, CONFIG);
  const first = await startCli(t, file);
  const port = first.ports.v5 as number;
  const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, watcherOptions);
  await watcher.subscribeAsync("will/#", { qos: 1 });
  await watcher.endAsync();
  const devices: RawClient[] = [];
  for (const id of ["dropped", "connected"]) {
    const device = await RawClient.open(t, port, 5);
    await device.connect(deviceFields(id));
    // A SUBACK follows the durable write of the session record, will included.
    device.send({ cmd: "subscribe", packetId: 1, subscriptions: [{ topic: `cmd/${id}`, qos: 1 }] });
    await device.next((p) => p.cmd === "suback");
    devices.push(device);
  }
  devices[0]?.socket.destroy();
  const killed = once(first.child, "exit");
  first.child.kill("SIGKILL");
  await withTimeout(killed, "the kill");

  const second = await startCli(t, file);
  const topics: string[] = [];
  const both = new Promise<void>((resolve) => {
    const again = mqtt.connect(`mqtt://127.0.0.1:${second.ports.v5}`, watcherOptions);
    t.after(() => again.end(true));
    again.on("message", (topic) => {
      topics.push(topic);
      if (topics.length === 2) resolve();
    });
  });
  await withTimeout(both, "the two wills");
  assert.deepEqual(topics.sort(), ["will/connected", "will/dropped"]);
  const stopped = once(second.child, "exit");
  second.child.kill("SIGTERM");
  assert.equal((await withTimeout(stopped, "the exit"))[0], 0);
});
