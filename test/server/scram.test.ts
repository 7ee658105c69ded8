// SCRAM-SHA-256 (RFC 5802, RFC 7677) on its own: RFC 7677's example
// exchange byte for byte, the client-first parser, refusals, and the
// `$scram-sha-256$` entry that rumqttd-passwd --scram prints.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import type { AuthStep } from "../../src/link/index.ts";
import { parseStoredPassword, verifyPassword } from "../../src/server/password-hash.ts";
import { createScramMethod, parseClientFirst } from "../../src/server/scram.ts";
import {
  deriveScramCredential,
  formatScramEntry,
  parseScramEntry,
} from "../../src/server/scram-credential.ts";
import { ScramClient } from "../helpers/scram-client.ts";

const RFC_SALT = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
const RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

async function rfcEntry(): Promise<string> {
  const c = await deriveScramCredential(Buffer.from("pencil"), RFC_SALT, 4096);
  const b64 = (b: Buffer) => b.toString("base64");
  return `$scram-sha-256$i=4096$${b64(c.salt)}$${b64(c.storedKey)}$${b64(c.serverKey)}`;
}

const data = (step: AuthStep) => (step.kind === "failure" ? "" : (step.data?.toString() ?? ""));

test("the exchange of RFC 7677 section 3 gives its server-first and server-final messages", async () => {
  const method = createScramMethod(
    { user: await rfcEntry() },
    { serverNonce: () => RFC_SERVER_NONCE },
  );
  const exchange = method.start();
  const first = await exchange.step(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  assert.equal(first.kind, "continue");
  assert.equal(
    data(first),
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  );
  const final = await exchange.step(
    Buffer.from(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    ),
  );
  assert.equal(final.kind, "success");
  assert.equal(final.kind === "success" && final.username, "user");
  assert.equal(data(final), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
});

test("a plain password in the table serves SCRAM; a wrong proof, an unknown user and a $scrypt$ user are refused alike", async () => {
  const method = createScramMethod({
    dev: "s3cret",
    hashed:
      "$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  });
  const run = async (user: string, password: string) => {
    const client = new ScramClient(user, password);
    const exchange = method.start();
    const first = await exchange.step(client.first());
    assert.equal(first.kind, "continue", "every user gets a challenge");
    const final = await exchange.step(
      client.final(first.kind === "continue" ? first.data : undefined),
    );
    if (final.kind === "success") assert.ok(client.verifyServer(final.data));
    return final;
  };
  assert.equal((await run("dev", "s3cret")).kind, "success");
  for (const [user, password] of [
    ["dev", "wrong"],
    ["nobody", "s3cret"],
    ["hashed", "s3cret"],
  ] as const) {
    const final = await run(user, password);
    assert.equal(final.kind === "failure" && final.reason, "BadUserNameOrPassword", user);
  }
});

test("the client-first parser reads user names with =2C and =3D and refuses channel binding and bad input", () => {
  const parsed = parseClientFirst("n,,n=a=2Cb=3Dc,r=abc");
  assert.equal(typeof parsed !== "string" && parsed.user, "a,b=c");
  assert.equal(typeof parsed !== "string" && parsed.bare, "n=a=2Cb=3Dc,r=abc");
  assert.match(parseClientFirst("p=tls-unique,,n=a,r=abc") as string, /channel binding/);
  assert.equal(typeof parseClientFirst("n,,n=a=2Xb,r=abc"), "string");
  assert.equal(typeof parseClientFirst("n,,m=ext,n=a,r=abc"), "string");
  assert.equal(typeof parseClientFirst("n,,n=,r=abc"), "string");
  assert.equal(typeof parseClientFirst("garbage"), "string");
  assert.equal(typeof parseClientFirst("n,a=other,n=a,r=abc"), "string");
  assert.equal(typeof parseClientFirst("n,a=a,n=a,r=abc"), "object");
});

test("a $scram-sha-256$ entry checks a CONNECT password too, and a malformed one is refused with a reason", async () => {
  const entry = formatScramEntry("s3cret", 4096);
  const stored = parseStoredPassword(entry);
  assert.equal(typeof stored !== "string" && stored.kind, "scram-sha-256");
  if (typeof stored === "string") return;
  assert.equal(await verifyPassword(stored, Buffer.from("s3cret")), true);
  assert.equal(await verifyPassword(stored, Buffer.from("s3creT")), false);
  assert.equal(typeof parseScramEntry("$scram-sha-256$i=10$AA==$AA==$AA=="), "string");
  assert.equal(typeof parseScramEntry("$scram-sha-256$nonsense"), "string");
});

test("rumqttd-passwd --scram prints an entry that SCRAM accepts for the password read from standard input", async () => {
  const cli = join(import.meta.dirname, "../../src/cli/rumqttd-passwd.ts");
  const result = spawnSync(process.execPath, ["--import", "tsx", cli, "--scram", "dev"], {
    input: "pencil\n",
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  const match = /^dev = "(\$scram-sha-256\$i=4096\$[^"]+)"\n$/.exec(result.stdout);
  assert.ok(match, result.stdout);
  const method = createScramMethod({ dev: match[1] as string });
  const client = new ScramClient("dev", "pencil");
  const exchange = method.start();
  const first = await exchange.step(client.first());
  const final = await exchange.step(
    client.final(first.kind === "continue" ? first.data : undefined),
  );
  assert.equal(final.kind, "success");
  const bad = spawnSync(process.execPath, ["--import", "tsx", cli, "--iterations", "10", "dev"], {
    input: "pencil\n",
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
});

test("users without a SCRAM credential (unknown, or another hash) are offered the iteration count most entries have, not a fixed 4096", async () => {
  const iterationsOffered = async (method: ReturnType<typeof createScramMethod>, user: string) => {
    const first = await method.start().step(new ScramClient(user, "x").first());
    assert.equal(first.kind, "continue");
    return /,i=(\d+)$/.exec(data(first))?.[1];
  };
  const method = createScramMethod({
    a: formatScramEntry("a", 5000),
    b: formatScramEntry("b", 5000),
    c: "plain",
    hashed:
      "$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  });
  assert.equal(await iterationsOffered(method, "a"), "5000");
  assert.equal(await iterationsOffered(method, "c"), "4096");
  assert.equal(await iterationsOffered(method, "nobody"), "5000");
  assert.equal(await iterationsOffered(method, "hashed"), "5000");
  // One each: the first entry's count.
  const tie = createScramMethod({ x: formatScramEntry("x", 6000), y: "plain" });
  assert.equal(await iterationsOffered(tie, "nobody"), "6000");
  // No SCRAM credential at all: RFC 7677's minimum.
  const none = createScramMethod({});
  assert.equal(await iterationsOffered(none, "nobody"), "4096");
});
