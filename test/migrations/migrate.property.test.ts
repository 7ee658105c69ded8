// Property test: generated old-syntax configs (varied forms, comments
// sprinkled everywhere) always migrate to a file that loads in the broker,
// keeps every comment, is new syntax, and migrates to itself.
// FC_SEED=<n> replays a run; the seed is printed on failure.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { detectSyntax, migrate } from "../../migrations/index.ts";
import { parseConfig } from "../../src/config/index.ts";

const seed = process.env.FC_SEED === undefined ? Date.now() : Number(process.env.FC_SEED);

const comment = fc.stringMatching(/^[a-z0-9 ,.:'"#=[\]-]{0,20}$/).map((s) => `# ${s}`.trimEnd());
const maybeComment = fc.option(comment, { nil: undefined });
const word = fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/);
const username = fc.oneof(word, fc.stringMatching(/^[a-z @.'"\\]{1,8}$/));
const password = fc.stringMatching(/^[ -~]{0,10}$/);
const int = fc.integer({ min: 1, max: 60_000 });

function quote(s: string): string {
  return JSON.stringify(s);
}

function line(text: string, trailing: string | undefined): string {
  return trailing === undefined ? text : `${text}   ${trailing}`;
}

const credentialsArb = fc.uniqueArray(fc.record({ u: username, p: password }), {
  minLength: 0,
  maxLength: 3,
  selector: (c) => c.u,
});

const serverArb = fc.record({
  key: fc.constantFrom("1", "2", "a", "edge"),
  port: fc.integer({ min: 1, max: 65_535 }),
  delay: fc.option(int, { nil: undefined }),
  tls: fc.option(fc.constantFrom("pem", "pem+ca", "p12"), { nil: undefined }),
  timeout: fc.option(int, { nil: undefined }),
  credentials: fc.option(credentialsArb, { nil: undefined }),
  tables: fc.boolean(),
  comments: fc.array(maybeComment, { minLength: 8, maxLength: 8 }),
});

type Server = typeof serverArb extends fc.Arbitrary<infer T> ? T : never;

function serverText(s: Server): string {
  const c = (i: number) => s.comments[i];
  const out = [line(`[servers.${s.key}]`, c(0)), line(`listen = "127.0.0.1:${s.port}"`, c(1))];
  if (s.delay !== undefined) out.push(`next_connection_delay_ms = ${s.delay}`);
  if (s.tls !== undefined) {
    out.push(line(`  [servers.${s.key}.cert]`, c(2)));
    if (s.tls === "p12") out.push('  pkcs12_path = "/etc/s.p12"', '  pkcs12_pass = "x"');
    else out.push(line('  cert_path = "/etc/c.pem"', c(3)), '  key_path = "/etc/k.pem"');
    if (s.tls === "pem+ca") out.push('  ca_path = "/etc/ca.pem"');
  }
  out.push(line(`  [servers.${s.key}.connections]`, c(4)));
  if (s.timeout !== undefined) out.push(`  connection_timeout_ms = ${s.timeout}`);
  const creds = s.credentials;
  if (creds !== undefined && !s.tables) {
    const items = creds.map((x) => `    { username = ${quote(x.u)}, password = ${quote(x.p)} },`);
    out.push("  login_credentials = [", ...(c(5) ? [`    ${c(5)}`] : []), ...items, "  ]");
  }
  if (creds !== undefined && s.tables) {
    for (const x of creds) {
      out.push(line(`  [[servers.${s.key}.connections.login_credentials]]`, c(6)));
      out.push(line(`  username = ${quote(x.u)}`, c(7)), `  password = ${quote(x.p)}`);
    }
  }
  return out.join("\n");
}

const configArb = fc.record({
  head: maybeComment,
  dir: fc.option(fc.constantFrom("/var/lib/r", "/tmp/r", "data"), { nil: undefined }),
  dirComment: maybeComment,
  servers: fc
    .uniqueArray(serverArb, { minLength: 1, maxLength: 3, selector: (s) => s.key })
    .map((list) => list.map((s, i) => ({ ...s, port: s.port - (s.port % 4) + i }))),
  cluster: fc.boolean(),
  replicator: fc.boolean(),
  console: fc.boolean(),
  between: maybeComment,
});

function configText(c: typeof configArb extends fc.Arbitrary<infer T> ? T : never): string {
  const parts: string[] = [];
  if (c.head !== undefined) parts.push(c.head);
  parts.push("id = 0", "[router]", "id = 0");
  if (c.dir !== undefined) parts.push(line(`dir = "${c.dir}"`, c.dirComment));
  parts.push("max_connections = 100", "");
  for (const s of c.servers) parts.push(serverText(s), c.between ?? "");
  if (c.cluster) parts.push("[cluster]", "  [cluster.0]", '  address = "localhost:1800" # n0');
  if (c.replicator) parts.push("[replicator]", "max_payload_size = 2048");
  if (c.console) parts.push("[console]", 'listen = "127.0.0.1:3030"');
  return `${parts.join("\n")}\n`;
}

/** Every comment the generator wrote, whole-line or trailing (generated comments start "# "). */
function commentsOf(config: typeof configArb extends fc.Arbitrary<infer T> ? T : never): string[] {
  const all = [
    config.head,
    config.dirComment,
    config.between,
    ...config.servers.flatMap((s) => s.comments),
  ];
  return all.filter((c): c is string => c !== undefined);
}

test("generated old configs migrate to loadable new syntax, keep every comment, and are idempotent", () => {
  try {
    fc.assert(
      fc.property(configArb, (config) => {
        const input = configText(config);
        const result = migrate(input);
        parseConfig(result.text, "/etc/rumqttd/generated.toml");
        assert.equal(detectSyntax(result.text), "new");
        for (const c of commentsOf(config).filter((x) => input.includes(x)))
          assert.ok(result.text.includes(c), `lost comment ${c}`);
        assert.equal(migrate(result.text).text, result.text);
      }),
      { seed, numRuns: 150 },
    );
  } catch (err) {
    console.error(`migration property failed; replay with FC_SEED=${seed}`);
    throw err;
  }
});
