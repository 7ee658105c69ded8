// The SCRAM-SHA-256 enhanced authentication method (RFC 5802, RFC 7677) for
// MQTT 5, checked against a listener's `auth` table:
//
//   client                                   broker
//   CONNECT  method, data = client-first  ->
//                                         <- AUTH 0x18, data = server-first
//   AUTH 0x18, data = client-final        ->
//                                         <- CONNACK 0x00, data = server-final
//
// (re-authentication: AUTH 0x19 with client-first, ..., AUTH 0x00 with
// server-final). A CONNECT without data gets an empty AUTH 0x18 first.
//
// Credentials: a plain password is turned into a SCRAM credential at start
// (random salt, 4096 iterations); a `$scram-sha-256$` entry is one already.
// Other hashes ($scrypt$, $7$, $6$) cannot serve SCRAM: such a user, like an
// unknown one, goes through the exchange with a made-up salt and the
// iteration count most entries of the table have (the first of equals;
// 4096 without SCRAM entries), and is refused at the proof (0x86), so that
// the answers do not tell which users exist; the log says why. No channel
// binding (gs2 flag "p" is refused).
//
// Who calls it: broker.ts builds one per MQTT 5 listener with an `auth`
// table. Never logs the authentication data.

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { AuthExchange, AuthMethod, AuthStep } from "../link/index.ts";
import { parseStoredPassword } from "./password-hash.ts";
import {
  deriveScramCredential,
  hmac,
  SCRAM_DEFAULT_ITERATIONS,
  type ScramCredential,
  sha256,
} from "./scram-credential.ts";

export const SCRAM_SHA_256 = "SCRAM-SHA-256";
const NONCE_BYTES = 18;
const FAKE_SALT_BYTES = 16;

/** Where a user's credential comes from, for the log when it cannot be used. */
type Lookup = { credential: ScramCredential } | { credential: undefined; detail: string };

export interface ScramOptions {
  /** Makes the server's part of each nonce; tests pass a fixed one to check RFC 7677's vector. */
  serverNonce?: () => string;
}

export function createScramMethod(
  table: Record<string, string>,
  options: ScramOptions = {},
): AuthMethod {
  const serverNonce = options.serverNonce ?? (() => randomBytes(NONCE_BYTES).toString("base64"));
  const credentials = new Map<string, Promise<ScramCredential> | string>();
  for (const [user, value] of Object.entries(table)) {
    const stored = parseStoredPassword(value);
    if (typeof stored === "string") continue; // reported at start by the authenticator
    if (stored.kind === "plain") {
      // Derived now, off the event loop, so that no login waits for it (or times it).
      const derived = deriveScramCredential(stored.password);
      derived.catch(() => undefined); // a failure shows when the user logs in
      credentials.set(user, derived);
    } else if (stored.kind === "scram-sha-256") {
      credentials.set(user, Promise.resolve(stored.credential));
    } else {
      credentials.set(user, `stored ${stored.kind} hash cannot serve ${SCRAM_SHA_256}`);
    }
  }
  const fakeKey = randomBytes(32);
  const fakeIterations = commonIterations(table);
  const lookup = async (user: string): Promise<Lookup> => {
    const entry = credentials.get(user);
    if (entry === undefined) return { credential: undefined, detail: "unknown user" };
    if (typeof entry === "string") return { credential: undefined, detail: entry };
    return { credential: await entry };
  };
  return {
    name: SCRAM_SHA_256,
    start: () =>
      new ScramExchange(lookup, serverNonce, (user) => ({
        salt: hmac(fakeKey, user).subarray(0, FAKE_SALT_BYTES),
        iterations: fakeIterations,
      })),
  };
}

/**
 * The iteration count most SCRAM credentials of the table have (a plain
 * password's is SCRAM_DEFAULT_ITERATIONS; the first of equals wins), offered
 * to users without one, so that the count does not single them out.
 */
export function commonIterations(table: Record<string, string>): number {
  const counts = new Map<number, number>();
  for (const value of Object.values(table)) {
    const stored = parseStoredPassword(value);
    if (typeof stored === "string") continue;
    let iterations: number | undefined;
    if (stored.kind === "plain") iterations = SCRAM_DEFAULT_ITERATIONS;
    else if (stored.kind === "scram-sha-256") iterations = stored.credential.iterations;
    if (iterations !== undefined) counts.set(iterations, (counts.get(iterations) ?? 0) + 1);
  }
  let best = SCRAM_DEFAULT_ITERATIONS;
  let bestCount = 0;
  for (const [iterations, count] of counts) {
    if (count > bestCount) [best, bestCount] = [iterations, count];
  }
  return best;
}

/** What a user without a SCRAM credential is offered in server-first. */
interface FakeChallenge {
  salt: Buffer;
  iterations: number;
}

interface ClientFirst {
  gs2Header: string;
  user: string;
  nonce: string;
  bare: string;
}

type State =
  | { at: "first" }
  | {
      at: "final";
      first: ClientFirst;
      serverFirst: string;
      nonce: string;
      lookup: Lookup;
    }
  | { at: "done" };

class ScramExchange implements AuthExchange {
  readonly #lookup: (user: string) => Promise<Lookup>;
  readonly #serverNonce: () => string;
  readonly #fake: (user: string) => FakeChallenge;
  #state: State = { at: "first" };

  constructor(
    lookup: (user: string) => Promise<Lookup>,
    serverNonce: () => string,
    fake: (user: string) => FakeChallenge,
  ) {
    this.#lookup = lookup;
    this.#serverNonce = serverNonce;
    this.#fake = fake;
  }

  async step(data: Buffer | undefined): Promise<AuthStep> {
    const state = this.#state;
    switch (state.at) {
      case "first":
        // SCRAM is client-first: without data, ask for it with an empty challenge.
        if (data === undefined || data.length === 0)
          return { kind: "continue", data: Buffer.alloc(0) };
        return this.#first(data);
      case "final":
        this.#state = { at: "done" };
        return final(state, data ?? Buffer.alloc(0));
      case "done":
        return failure("NotAuthorized", "exchange already ended");
    }
  }

  async #first(data: Buffer): Promise<AuthStep> {
    const first = parseClientFirst(data.toString("utf8"));
    if (typeof first === "string") {
      this.#state = { at: "done" };
      return failure(
        first.startsWith("channel") ? "BadAuthenticationMethod" : "NotAuthorized",
        first,
      );
    }
    const lookup = await this.#lookup(first.user);
    const { salt, iterations } = lookup.credential ?? this.#fake(first.user);
    const nonce = first.nonce + this.#serverNonce();
    const serverFirst = `r=${nonce},s=${salt.toString("base64")},i=${iterations}`;
    this.#state = { at: "final", first, serverFirst, nonce, lookup };
    return { kind: "continue", data: Buffer.from(serverFirst, "utf8") };
  }
}

function final(state: Extract<State, { at: "final" }>, data: Buffer): AuthStep {
  const failure = (reason: FailureReason, detail: string): AuthStep => ({
    kind: "failure",
    reason,
    detail,
    username: state.first.user,
  });
  const text = data.toString("utf8");
  const proofAt = text.lastIndexOf(",p=");
  if (proofAt < 0) return failure("NotAuthorized", "malformed client-final message");
  const withoutProof = text.slice(0, proofAt);
  const attributes = withoutProof.split(",");
  const binding = attributes[0]?.startsWith("c=") ? attributes[0].slice(2) : undefined;
  const nonce = attributes[1]?.startsWith("r=") ? attributes[1].slice(2) : undefined;
  // RFC 5802 5.1: c= is the base64 of the gs2 header sent first (no channel binding data).
  if (binding !== Buffer.from(state.first.gs2Header, "utf8").toString("base64")) {
    return failure("NotAuthorized", "channel binding attribute does not match");
  }
  if (nonce !== state.nonce) return failure("NotAuthorized", "nonce does not match");
  const proof = Buffer.from(text.slice(proofAt + 3), "base64");
  const credential = state.lookup.credential;
  if (credential === undefined) return failure("BadUserNameOrPassword", state.lookup.detail);
  const authMessage = `${state.first.bare},${state.serverFirst},${withoutProof}`;
  const signature = hmac(credential.storedKey, authMessage);
  if (proof.length !== signature.length) return failure("BadUserNameOrPassword", "wrong proof");
  const clientKey = Buffer.alloc(proof.length);
  for (let i = 0; i < proof.length; i++) {
    clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
  }
  if (!timingSafeEqual(sha256(clientKey), credential.storedKey)) {
    return failure("BadUserNameOrPassword", "wrong proof");
  }
  const serverSignature = hmac(credential.serverKey, authMessage).toString("base64");
  return {
    kind: "success",
    username: state.first.user,
    data: Buffer.from(`v=${serverSignature}`, "utf8"),
  };
}

type FailureReason = Extract<AuthStep, { kind: "failure" }>["reason"];

/** A refusal before the client has named its user. */
function failure(reason: FailureReason, detail: string): AuthStep {
  return { kind: "failure", reason, detail };
}

/**
 * client-first-message = gs2-header client-first-bare, where
 * gs2-header = ("n" | "y" | "p=" name) "," [ "a=" authzid ] ","
 * and client-first-bare = "n=" saslname ",r=" nonce ["," extensions].
 * Returns why it cannot be used, or the parts.
 */
export function parseClientFirst(text: string): ClientFirst | string {
  const first = text.indexOf(",");
  const second = first < 0 ? -1 : text.indexOf(",", first + 1);
  if (second < 0) return "malformed client-first message";
  const flag = text.slice(0, first);
  const authzid = text.slice(first + 1, second);
  if (flag.startsWith("p=")) return "channel binding is not supported";
  if (flag !== "n" && flag !== "y") return "malformed gs2 header";
  const bare = text.slice(second + 1);
  const parts = bare.split(",");
  // RFC 5802 5.1: a mandatory extension (m=) the server does not know fails the exchange.
  if (!parts[0]?.startsWith("n=") || !parts[1]?.startsWith("r=")) {
    return "malformed client-first message";
  }
  const user = decodeSaslName(parts[0].slice(2));
  const nonce = parts[1].slice(2);
  if (user === undefined || user.length === 0) return "malformed user name";
  if (nonce.length === 0 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(nonce)) return "malformed nonce";
  if (authzid !== "" && (!authzid.startsWith("a=") || decodeSaslName(authzid.slice(2)) !== user)) {
    return "authorization identity differs from the user";
  }
  return { gs2Header: text.slice(0, second + 1), user, nonce, bare };
}

/** saslname: "=2C" stands for ",", "=3D" for "="; any other "=" is invalid. */
function decodeSaslName(name: string): string | undefined {
  if (/=(?!2C|3D)/.test(name)) return undefined;
  return name.replaceAll("=2C", ",").replaceAll("=3D", "=");
}
