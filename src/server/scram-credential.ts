// SCRAM-SHA-256 credentials (RFC 5802 section 3, RFC 7677): what a server
// keeps to check a SCRAM proof without knowing the password, and the
// `$scram-sha-256$` form of the `auth` table that holds it:
//
//   $scram-sha-256$i=<iterations>$<salt base64>$<StoredKey base64>$<ServerKey base64>
//
// made by `rumqttd-passwd --scram`. A plain password in the table is turned
// into a credential at start, with a random salt. Passwords are used as
// their UTF-8 bytes, without SASLprep (ASCII passwords are unaffected).
//
// Who calls it: password-hash.ts (parse, check a CONNECT password against a
// stored credential), scram.ts (the exchange) and rumqttd-passwd.

import {
  createHash,
  createHmac,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_PREFIX = "$scram-sha-256$";
/** RFC 7677 section 4: at least 4096 iterations. */
export const SCRAM_DEFAULT_ITERATIONS = 4096;
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 10_000_000;
const SCRAM_SALT_BYTES = 16;
const SHA256_BYTES = 32;

export interface ScramCredential {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function hmac(key: Buffer, text: string | Buffer): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

function fromSaltedPassword(salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(salted, "Client Key");
  return {
    iterations,
    salt,
    storedKey: sha256(clientKey),
    serverKey: hmac(salted, "Server Key"),
  };
}

/** The credential for `password` (off the event loop: PBKDF2 runs on libuv's thread pool). */
export async function deriveScramCredential(
  password: Buffer,
  salt: Buffer = randomBytes(SCRAM_SALT_BYTES),
  iterations: number = SCRAM_DEFAULT_ITERATIONS,
): Promise<ScramCredential> {
  const salted = await pbkdf2Async(password, salt, iterations, SHA256_BYTES, "sha256");
  return fromSaltedPassword(salted, salt, iterations);
}

/** A new `$scram-sha-256$` entry for `password` with a random salt (rumqttd-passwd). */
export function formatScramEntry(
  password: string,
  iterations: number = SCRAM_DEFAULT_ITERATIONS,
): string {
  const salt = randomBytes(SCRAM_SALT_BYTES);
  const salted = pbkdf2Sync(
    Buffer.from(password, "utf8"),
    salt,
    iterations,
    SHA256_BYTES,
    "sha256",
  );
  const c = fromSaltedPassword(salted, salt, iterations);
  const b64 = (b: Buffer) => b.toString("base64");
  return `${SCRAM_PREFIX}i=${iterations}$${b64(c.salt)}$${b64(c.storedKey)}$${b64(c.serverKey)}`;
}

/** Parses a `$scram-sha-256$` entry; a string says why it cannot be used. */
export function parseScramEntry(value: string): ScramCredential | string {
  const match =
    /^\$scram-sha-256\$i=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(
      value,
    );
  if (match === null)
    return "malformed $scram-sha-256$ entry (make one with rumqttd-passwd --scram)";
  const iterations = Number(match[1]);
  if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    return `$scram-sha-256$ iterations out of range (${SCRAM_MIN_ITERATIONS} to ${SCRAM_MAX_ITERATIONS})`;
  }
  const salt = Buffer.from(match[2] as string, "base64");
  const storedKey = Buffer.from(match[3] as string, "base64");
  const serverKey = Buffer.from(match[4] as string, "base64");
  if (salt.length === 0) return "$scram-sha-256$ salt is empty";
  if (storedKey.length !== SHA256_BYTES || serverKey.length !== SHA256_BYTES) {
    return "$scram-sha-256$ keys must be 32 bytes (SHA-256)";
  }
  return { iterations, salt, storedKey, serverKey };
}

/** Whether `password` is the one `credential` was made from (a CONNECT password check). */
export async function scramPasswordMatches(
  credential: ScramCredential,
  password: Buffer,
): Promise<boolean> {
  const candidate = await deriveScramCredential(password, credential.salt, credential.iterations);
  return timingSafeEqual(candidate.storedKey, credential.storedKey);
}
