// Stored passwords for the `auth` table of a server: a value is either a
// plain password or a hash in one of the formats below, and a CONNECT's
// password is checked against it in constant time.
//
// Formats (the value starts with the marker):
// - `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt base64>$<hash base64>`: this
//   broker's own, made by `rumqttd-passwd`; scrypt from node:crypto.
// - `$7$<iterations>$<salt base64>$<hash base64>`: mosquitto_passwd's
//   PBKDF2-HMAC-SHA512, so entries of a mosquitto password file can be reused.
// - `$6$<salt base64>$<hash base64>`: mosquitto's older salted SHA-512.
// - `$scram-sha-256$i=<iterations>$<salt>$<StoredKey>$<ServerKey>`: a
//   SCRAM-SHA-256 credential (scram-credential.ts, `rumqttd-passwd --scram`),
//   the one hash that also serves MQTT 5 SCRAM-SHA-256 authentication.
// Anything else is a plain password. (A plain password that itself starts
// with one of these markers must be hashed: it would be read as a hash.)
//
// Who calls it: the server, which builds the `authenticate` function it hands
// each link, and the rumqttd-passwd CLI. Never logs or returns a password.

import { createHash, pbkdf2, randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import {
  parseScramEntry,
  SCRAM_PREFIX,
  type ScramCredential,
  scramPasswordMatches,
} from "./scram-credential.ts";

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export const SCRYPT_DEFAULTS = { logN: 15, r: 8, p: 1 } as const;
const SCRYPT_SALT_BYTES = 16;
const SCRYPT_KEY_BYTES = 32;
/** scrypt needs 128 x N x r bytes; allow the largest parameters we accept. */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;
const MAX_PBKDF2_ITERATIONS = 10_000_000;

export type StoredPassword =
  | { kind: "plain"; password: Buffer }
  | { kind: "scrypt"; logN: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { kind: "pbkdf2-sha512"; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: "sha512"; salt: Buffer; hash: Buffer }
  | { kind: "scram-sha-256"; credential: ScramCredential };

/** Why a stored value that looks like a hash cannot be used; undefined when it can. */
export function checkStoredPassword(value: string): string | undefined {
  const parsed = parseStoredPassword(value);
  return typeof parsed === "string" ? parsed : undefined;
}

export function parseStoredPassword(value: string): StoredPassword | string {
  if (value.startsWith(SCRAM_PREFIX)) {
    const credential = parseScramEntry(value);
    return typeof credential === "string" ? credential : { kind: "scram-sha-256", credential };
  }
  if (value.startsWith("$scrypt$")) {
    const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(
      value,
    );
    if (match === null) return "malformed $scrypt$ hash (make one with rumqttd-passwd)";
    const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
    if (logN < 1 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
      return "$scrypt$ parameters out of range (ln 1-20, r 1-32, p 1-16)";
    }
    const salt = Buffer.from(match[4] as string, "base64");
    const hash = Buffer.from(match[5] as string, "base64");
    if (hash.length < 16) return "$scrypt$ hash too short";
    return { kind: "scrypt", logN, r, p, salt, hash };
  }
  if (value.startsWith("$7$")) {
    const match = /^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(value);
    if (match === null) return "malformed $7$ (mosquitto PBKDF2-SHA512) hash";
    const iterations = Number(match[1]);
    if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return "$7$ iterations out of range";
    const salt = Buffer.from(match[2] as string, "base64");
    const hash = Buffer.from(match[3] as string, "base64");
    if (hash.length !== 64) return "$7$ hash must be 64 bytes (SHA-512)";
    return { kind: "pbkdf2-sha512", iterations, salt, hash };
  }
  if (value.startsWith("$6$")) {
    const match = /^\$6\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(value);
    if (match === null) return "malformed $6$ (mosquitto SHA-512) hash";
    const hash = Buffer.from(match[2] as string, "base64");
    if (hash.length !== 64) return "$6$ hash must be 64 bytes (SHA-512)";
    return { kind: "sha512", salt: Buffer.from(match[1] as string, "base64"), hash };
  }
  return { kind: "plain", password: Buffer.from(value, "utf8") };
}

/**
 * Whether `candidate` (the CONNECT's password bytes) matches the stored value.
 * The comparison of the final bytes is constant-time; hashing takes the same
 * time whatever the candidate, and runs on libuv's thread pool so that slow
 * hashes never stall the event loop.
 */
export async function verifyPassword(stored: StoredPassword, candidate: Buffer): Promise<boolean> {
  switch (stored.kind) {
    case "plain": {
      // Compare digests so that the lengths of the two passwords leak nothing.
      const a = createHash("sha256").update(stored.password).digest();
      const b = createHash("sha256").update(candidate).digest();
      return timingSafeEqual(a, b);
    }
    case "scrypt": {
      const derived = await scryptAsync(candidate, stored.salt, stored.hash.length, {
        N: 2 ** stored.logN,
        r: stored.r,
        p: stored.p,
        maxmem: SCRYPT_MAX_MEMORY,
      });
      return timingSafeEqual(derived, stored.hash);
    }
    case "pbkdf2-sha512": {
      const derived = await pbkdf2Async(candidate, stored.salt, stored.iterations, 64, "sha512");
      return timingSafeEqual(derived, stored.hash);
    }
    case "sha512": {
      const derived = createHash("sha512").update(candidate).update(stored.salt).digest();
      return timingSafeEqual(derived, stored.hash);
    }
    case "scram-sha-256":
      return scramPasswordMatches(stored.credential, candidate);
    default:
      return assertNever(stored);
  }
}

/**
 * Roughly how long checking a password against `stored` takes, in tenths of
 * a microsecond as measured on one x86-64 core (scrypt ~0.4 us per N x r x p,
 * PBKDF2-SHA512 ~0.7 us and PBKDF2-SHA256 ~0.3 us per iteration; plain and
 * $6$ are one or two hashes). Only the order matters: the authenticator
 * checks an unknown user against the costliest entry of its table.
 */
export function verifyCost(stored: StoredPassword): number {
  switch (stored.kind) {
    case "plain":
    case "sha512":
      return 1;
    case "scrypt":
      return 4 * 2 ** stored.logN * stored.r * stored.p;
    case "pbkdf2-sha512":
      return 7 * stored.iterations;
    case "scram-sha-256":
      return 3 * stored.credential.iterations;
    default:
      return assertNever(stored);
  }
}

/** A new `$scrypt$` hash of `password` with a random salt. */
export function hashPassword(
  password: string,
  params: { logN: number; r: number; p: number } = SCRYPT_DEFAULTS,
): string {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = scryptSync(Buffer.from(password, "utf8"), salt, SCRYPT_KEY_BYTES, {
    N: 2 ** params.logN,
    r: params.r,
    p: params.p,
    maxmem: SCRYPT_MAX_MEMORY,
  });
  return `$scrypt$ln=${params.logN},r=${params.r},p=${params.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected stored password kind: ${JSON.stringify(value)}`);
}
