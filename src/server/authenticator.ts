// Turns a listener's `auth` table (username -> plain password or a stored
// hash, see password-hash.ts) into the `authenticate` function the link's
// CONNECT handshake calls. Hashes are parsed once, at start; a malformed one
// is reported then, by path, instead of refusing every client later.
//
// Who calls it: broker.ts, once per listener with an auth table.

import { parseStoredPassword, type StoredPassword, verifyPassword } from "./password-hash.ts";

export type Authenticate = (username: string, password: Buffer) => Promise<boolean>;

/** Compared against when the table is empty and the user therefore unknown. */
const UNKNOWN_USER: StoredPassword = { kind: "plain", password: Buffer.from("\u0000unknown") };

export interface AuthProblem {
  user: string;
  message: string;
}

/** The authenticator, or the problems of the values that cannot be used. */
export function createAuthenticator(table: Record<string, string>): Authenticate | AuthProblem[] {
  const stored = new Map<string, StoredPassword>();
  const problems: AuthProblem[] = [];
  for (const [user, value] of Object.entries(table)) {
    const parsed = parseStoredPassword(value);
    if (typeof parsed === "string") problems.push({ user, message: parsed });
    else stored.set(user, parsed);
  }
  if (problems.length > 0) return problems;
  // An unknown user is checked against a real entry (and refused whatever the
  // result), so that it costs the same hash work: the time a refusal takes
  // does not tell which user names exist.
  const standIn = stored.values().next().value ?? UNKNOWN_USER;
  return async (username, password) => {
    const entry = stored.get(username);
    const ok = await verifyPassword(entry ?? standIn, password);
    return ok && entry !== undefined;
  };
}
