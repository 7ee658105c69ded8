// The authenticator of an `auth` table: an unknown user is checked against
// the costliest entry of the table, so that its refusal does the same hash
// work as a real user's (the work is observed through the verify function,
// which here records each call and then runs the real check).
import assert from "node:assert/strict";
import { test } from "node:test";
import { costliest, createAuthenticator } from "../../src/server/authenticator.ts";
import {
  hashPassword,
  parseStoredPassword,
  type StoredPassword,
  verifyPassword,
} from "../../src/server/password-hash.ts";
import { formatScramEntry } from "../../src/server/scram-credential.ts";

const SCRYPT = hashPassword("bobs", { logN: 10, r: 8, p: 1 });
const MOSQUITTO_PBKDF2 =
  "$7$101$Ml4neAZ14tkpWrpq$l1X4zsGlGuWCxjBypXaME06k2Q0jSUXV1cLyRz+bupIkO5Sh99lc+YEDRFJu7d83DtwKcVF8NN9uYix285HzTQ==";
const MOSQUITTO_SHA512 =
  "$6$8080/3GHy5hXXtoO$zjaYDvvLpjGi5wpAGNzW6iI0jN5GojI2ZROuCDvPsleJMfrPoquh/UsZ2X5VOTjWyhXxeciOQAdoBhBZzNkHjA==";

function stored(value: string): StoredPassword {
  const parsed = parseStoredPassword(value);
  assert.ok(typeof parsed !== "string", parsed as string);
  return parsed;
}

function recordingAuthenticator(table: Record<string, string>) {
  const checkedAgainst: StoredPassword[] = [];
  const authenticate = createAuthenticator(table, (entry, password) => {
    checkedAgainst.push(entry);
    return verifyPassword(entry, password);
  });
  assert.ok(!Array.isArray(authenticate));
  return { authenticate, checkedAgainst };
}

test("an unknown user is checked against the table's costliest entry, not its first: the same hash work as the hashed user's refusal", async () => {
  const { authenticate, checkedAgainst } = recordingAuthenticator({
    alice: "plainpass",
    bob: SCRYPT,
  });
  assert.equal(await authenticate("nosuchuser", Buffer.from("bobs")), false);
  assert.equal(await authenticate("bob", Buffer.from("wrong")), false);
  assert.equal(checkedAgainst.length, 2);
  assert.equal(checkedAgainst[0]?.kind, "scrypt");
  assert.deepEqual(checkedAgainst[0], checkedAgainst[1], "the same entry, the same work");
});

test("an unknown user is refused even with the password of the entry it is checked against", async () => {
  const { authenticate } = recordingAuthenticator({ bob: SCRYPT });
  assert.equal(await authenticate("mallory", Buffer.from("bobs")), false);
  assert.equal(await authenticate("bob", Buffer.from("bobs")), true);
});

test("the costliest entry is scrypt over PBKDF2 ($7$, SCRAM) over $6$ and plain, and the larger parameters within a kind", () => {
  const kinds = (values: string[]) => costliest(values.map(stored));
  assert.equal(kinds(["plain", MOSQUITTO_SHA512, MOSQUITTO_PBKDF2, SCRYPT])?.kind, "scrypt");
  assert.equal(kinds(["plain", MOSQUITTO_SHA512, MOSQUITTO_PBKDF2])?.kind, "pbkdf2-sha512");
  assert.equal(
    kinds(["plain", formatScramEntry("x", 4096), MOSQUITTO_PBKDF2])?.kind,
    "scram-sha-256",
  );
  const slower = hashPassword("x", { logN: 12, r: 8, p: 1 });
  assert.deepEqual(kinds([SCRYPT, slower, SCRYPT]), stored(slower));
  assert.equal(costliest([]), undefined);
});
