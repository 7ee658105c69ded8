// Turns a listener's `auth` table (username -> plain password or a stored
// hash, see password-hash.ts) into the `authenticate` function the link's
// CONNECT handshake calls. Hashes are parsed once, at start; a malformed one
// is reported then, by path, instead of refusing every client later.
//
// Who calls it: broker.ts, once per listener with an auth table.

import {
  parseStoredPassword,
  type StoredPassword,
  verifyCost,
  verifyPassword,
} from "./password-hash.ts";

export type Authenticate = (username: string, password: Buffer) => Promise<boolean>;

/** Checks a password against a stored entry; tests pass one that records its calls. */
export type Verify = (stored: StoredPassword, password: Buffer) => Promise<boolean>;

/** Compared against when the table is empty and the user therefore unknown. */
const UNKNOWN_USER: StoredPassword = { kind: "plain", password: Buffer.from("\u0000unknown") };

export interface AuthProblem {
  user: string;
  message: string;
}

/** The authenticator, or the problems of the values that cannot be used. */
export function createAuthenticator(
  table: Record<string, string>,
  verify: Verify = verifyPassword,
): Authenticate | AuthProblem[] {
  const stored = new Map<string, StoredPassword>();
  const problems: AuthProblem[] = [];
  for (const [user, value] of Object.entries(table)) {
    const parsed = parseStoredPassword(value);
    if (typeof parsed === "string") problems.push({ user, message: parsed });
    else stored.set(user, parsed);
  }
  if (problems.length > 0) return problems;
  // An unknown user is checked against the costliest entry of the table (and
  // refused whatever the result), so that its refusal takes as long as that
  // of the slowest real user: a refusal's time does not tell that a user name
  // is unknown. It can still tell which kind of entry a known user has, when
  // the table mixes plain passwords and hashes (README, "Passwords").
  const standIn = costliest(stored.values()) ?? UNKNOWN_USER;
  return async (username, password) => {
    const entry = stored.get(username);
    const ok = await verify(entry ?? standIn, password);
    return ok && entry !== undefined;
  };
}

/** The entry whose check takes longest (the first of equals), if any. */
export function costliest(entries: Iterable<StoredPassword>): StoredPassword | undefined {
  let best: StoredPassword | undefined;
  for (const entry of entries) {
    if (best === undefined || verifyCost(entry) > verifyCost(best)) best = entry;
  }
  return best;
}
