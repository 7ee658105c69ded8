// The interface of an MQTT 5 enhanced authentication method (spec 4.12): the
// link runs the AUTH exchange, a method decides what the data means. Methods
// are pluggable: the server builds them (SCRAM-SHA-256 from a listener's
// `auth` table, src/server/scram.ts) and hands them to each link by name.
//
// Who uses it: handlers/auth.ts (the exchange in CONNECT and re-authentication)
// and the server (implementations). Defined here so that link/ depends on
// nothing above it.

/** One step's outcome. */
export type AuthStep =
  /** Send this to the client with AUTH 0x18 and wait for its answer. */
  | { kind: "continue"; data: Buffer }
  /** Authenticated as `username`; `data` (if any) goes in the CONNACK or the AUTH 0x00. */
  | { kind: "success"; username: string; data?: Buffer }
  /**
   * Refused. `reason` is the CONNACK reason code ("BadUserNameOrPassword",
   * "NotAuthorized", "BadAuthenticationMethod"); `detail` is for the log and
   * must not hold a secret; `username`, for the log too, once the client named one.
   */
  | {
      kind: "failure";
      reason: "BadUserNameOrPassword" | "NotAuthorized" | "BadAuthenticationMethod";
      detail: string;
      username?: string;
    };

/** One exchange of one connection (a CONNECT, or one re-authentication). */
export interface AuthExchange {
  /**
   * Feeds the client's Authentication Data (from the CONNECT or the AUTH
   * packet; undefined when it sent none) and returns the next step.
   */
  step(data: Buffer | undefined): Promise<AuthStep>;
}

export interface AuthMethod {
  /** The Authentication Method's name, as clients send it, e.g. "SCRAM-SHA-256". */
  readonly name: string;
  start(): AuthExchange;
}
