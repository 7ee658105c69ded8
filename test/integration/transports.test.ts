// One behaviour suite over every transport and protocol version: {TCP, TLS,
// WebSocket, WSS} x {MQTT 3.1.1, MQTT 5}. Each transport gets one broker
// whose listeners require a password (a $scrypt$ hash); the suite checks
// authentication (accepted and refused), QoS 0/1/2 round trips, retained
// messages and wills. WebSocket listeners serve both versions on one port.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConnackReturnCodeV3, ReasonCode } from "../../src/protocol/index.ts";
import { hashPassword } from "../../src/server/password-hash.ts";
import { collect } from "../helpers/broker.ts";
import {
  connectTo,
  refusedCode,
  startTransportBroker,
  TRANSPORTS,
  type TransportBroker,
} from "../helpers/transports.ts";

const USER = "dev";
const PASSWORD = "s3cret";
const auth = { [USER]: hashPassword(PASSWORD, { logN: 8, r: 8, p: 1 }) };

for (const transport of TRANSPORTS) {
  describe(`over ${transport}`, () => {
    let b: TransportBroker;
    const cleanups: Array<() => Promise<void>> = [];
    before(async () => {
      const suite = { after: (fn: () => Promise<void>) => cleanups.push(fn) };
      b = await startTransportBroker(suite, transport, { connections: { auth } });
    });
    after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });

    for (const version of [4, 5] as const) {
      const name = `${transport} v${version === 4 ? "3.1.1" : "5"}`;
      const options = (clientId: string, extra = {}) => ({
        ...b.clientOptions(version),
        clientId: `${transport}-${version}-${clientId}`,
        username: USER,
        password: PASSWORD,
        ...extra,
      });

      test(`${name}: the right password is accepted, a wrong one refused with 0x04 / 0x86`, async (t) => {
        await connectTo(t, b.url(version), options("ok"));
        const code = await refusedCode(t, b.url(version), options("bad", { password: "wrong" }));
        assert.equal(
          code,
          version === 5
            ? ReasonCode.BadUserNameOrPassword
            : ConnackReturnCodeV3.BadUserNameOrPassword,
        );
      });

      test(`${name}: QoS 0, 1 and 2 make the round trip`, async (t) => {
        const sub = await connectTo(t, b.url(version), options("sub"));
        const pub = await connectTo(t, b.url(version), options("pub"));
        const got = collect(sub);
        await sub.subscribeAsync(`rt/${name}/#`, { qos: 2 });
        for (const qos of [0, 1, 2] as const) {
          await pub.publishAsync(`rt/${name}/${qos}`, `q${qos}`, { qos });
        }
        const messages = await got.next(3);
        assert.deepEqual(
          messages.map((m) => [m.payload, m.qos]),
          [
            ["q0", 0],
            ["q1", 1],
            ["q2", 2],
          ],
        );
      });

      test(`${name}: a retained message reaches a later subscriber with RETAIN set`, async (t) => {
        const pub = await connectTo(t, b.url(version), options("rpub"));
        await pub.publishAsync(`retained/${name}`, "kept", { qos: 1, retain: true });
        const sub = await connectTo(t, b.url(version), options("rsub"));
        const got = collect(sub);
        await sub.subscribeAsync(`retained/${name}`, { qos: 1 });
        const [message] = await got.next(1);
        assert.deepEqual([message?.payload, message?.retain], ["kept", true]);
      });

      test(`${name}: the will is published when the connection drops`, async (t) => {
        const watcher = await connectTo(t, b.url(version), options("watch"));
        const got = collect(watcher);
        await watcher.subscribeAsync(`will/${name}`, { qos: 1 });
        const dying = await connectTo(
          t,
          b.url(version),
          options("dying", { will: { topic: `will/${name}`, payload: "gone", qos: 1 } }),
        );
        dying.stream.destroy();
        const [message] = await got.next(1);
        assert.equal(message?.payload, "gone");
      });
    }
  });
}
