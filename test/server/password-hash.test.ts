// Stored passwords of the auth table: this broker's scrypt hashes, plain
// passwords, and mosquitto_passwd's formats. The two mosquitto vectors were
// made with Debian's mosquitto_passwd 2.0 (`mosquitto_passwd -c -b pw alice
// 'correct horse'` and `-H sha512 -b pw bob 'b0b$pa:ss'`).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import {
  checkStoredPassword,
  hashPassword,
  parseStoredPassword,
  type StoredPassword,
  verifyPassword,
} from "../../src/server/password-hash.ts";

const MOSQUITTO_PBKDF2 =
  "$7$101$Ml4neAZ14tkpWrpq$l1X4zsGlGuWCxjBypXaME06k2Q0jSUXV1cLyRz+bupIkO5Sh99lc+YEDRFJu7d83DtwKcVF8NN9uYix285HzTQ==";
const MOSQUITTO_SHA512 =
  "$6$8080/3GHy5hXXtoO$zjaYDvvLpjGi5wpAGNzW6iI0jN5GojI2ZROuCDvPsleJMfrPoquh/UsZ2X5VOTjWyhXxeciOQAdoBhBZzNkHjA==";

function stored(value: string): StoredPassword {
  const parsed = parseStoredPassword(value);
  assert.ok(typeof parsed !== "string", parsed as string);
  return parsed;
}

const check = (value: string, password: string) =>
  verifyPassword(stored(value), Buffer.from(password, "utf8"));

test("a scrypt hash made by hashPassword accepts its password and nothing else", async () => {
  const hash = hashPassword("s3cret ü", { logN: 10, r: 8, p: 1 });
  assert.match(hash, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await check(hash, "s3cret ü"), true);
  assert.equal(await check(hash, "s3cret u"), false);
  assert.equal(await check(hash, ""), false);
  assert.notEqual(hashPassword("same", { logN: 10, r: 8, p: 1 }), hash, "salts are random");
});

test("entries of a mosquitto password file ($7$ PBKDF2-SHA512 and $6$ SHA-512) verify as mosquitto does", async () => {
  assert.equal(await check(MOSQUITTO_PBKDF2, "correct horse"), true);
  assert.equal(await check(MOSQUITTO_PBKDF2, "correct horse "), false);
  assert.equal(await check(MOSQUITTO_SHA512, "b0b$pa:ss"), true);
  assert.equal(await check(MOSQUITTO_SHA512, "b0b$pa:sS"), false);
});

test("a plain stored password matches only the same bytes", async () => {
  assert.equal(await check("p@ssw0rd", "p@ssw0rd"), true);
  assert.equal(await check("p@ssw0rd", "p@ssw0rd2"), false);
  assert.equal(await check("p@ssw0rd", "p@ssw0r"), false);
});

test("a malformed hash is named as such instead of being taken for a plain password", () => {
  assert.match(checkStoredPassword("$scrypt$ln=15$abc") ?? "", /malformed \$scrypt\$/);
  assert.match(checkStoredPassword("$7$101$onlysalt") ?? "", /malformed \$7\$/);
  assert.match(
    checkStoredPassword("$scrypt$ln=40,r=8,p=1$YQ==$YWFhYWFhYWFhYWFhYWFhYQ==") ?? "",
    /out of range/,
  );
  assert.equal(checkStoredPassword("plain"), undefined);
  assert.equal(checkStoredPassword(MOSQUITTO_PBKDF2), undefined);
});

const cli = join(import.meta.dirname, "../../src/cli/rumqttd-passwd.ts");

function runCli(args: string[], input: string) {
  return spawnSync(process.execPath, ["--import", "tsx", cli, ...args], {
    input,
    encoding: "utf8",
  });
}

test("rumqttd-passwd prints a TOML auth line whose hash verifies the password read from standard input", async () => {
  const result = runCli(["--cost", "10", "field device"], "hunter2\n");
  assert.equal(result.status, 0, result.stderr);
  const match = /^"field device" = "(\$scrypt\$[^"]+)"\n$/.exec(result.stdout);
  assert.ok(match, result.stdout);
  assert.equal(await check(match[1] as string, "hunter2"), true);
  assert.doesNotMatch(result.stdout + result.stderr, /hunter2/, "the password is never echoed");
});

test("rumqttd-passwd refuses bad usage and an empty password with exit code 2", () => {
  assert.equal(runCli([], "x\n").status, 2);
  assert.equal(runCli(["a", "b"], "x\n").status, 2);
  assert.equal(runCli(["--cost", "99", "a"], "x\n").status, 2);
  const empty = runCli(["a"], "\n");
  assert.equal(empty.status, 2);
  assert.match(empty.stderr, /^rumqttd-passwd: the password is empty\n/);
});
