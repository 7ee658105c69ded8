// aedes on node:net, for the side-by-side benchmarks only.
//
// Starts aedes (npm, a dev dependency used nowhere else) with its default in-memory persistence
// on `--host`:`--port`, prints one JSON line `{"event":"aedes.ready","port":N}` when listening,
// and closes on SIGTERM or SIGINT. Nothing it holds survives a restart, which run.ts reports.
//
// Usage: node --import tsx tools/bench/aedes-server.ts --port 1883
import net from "node:net";
import { parseArgs } from "node:util";
import { Aedes } from "aedes";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "1883" },
  },
  strict: true,
});

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(Number(values.port), values.host, () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : null;
  process.stdout.write(`${JSON.stringify({ event: "aedes.ready", port })}\n`);
});

function stop(): void {
  server.close();
  broker.close(() => process.exit(0));
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
