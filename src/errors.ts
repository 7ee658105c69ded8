// The shared error base. Every error the broker raises on purpose carries a
// stable `code` string; tests and callers branch on the code, never on the
// message text. Causes are chained with `{ cause }`.
//
// Who uses it: every module in src/. It imports nothing of ours.

export type BrokerErrorCode =
  | "ERR_CONFIG_INVALID"
  | "ERR_CONFIG_OLD_SYNTAX"
  | "ERR_CONFIG_READ"
  | "ERR_LISTEN"
  | "ERR_PROTOCOL"
  | "ERR_UNSUPPORTED"
  | "ERR_USAGE";

export class BrokerError extends Error {
  readonly code: BrokerErrorCode;

  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrokerError";
    this.code = code;
  }
}

export type ConfigErrorCode = "ERR_CONFIG_INVALID" | "ERR_CONFIG_OLD_SYNTAX" | "ERR_CONFIG_READ";

/**
 * A config file that cannot be used. `problems` holds one printable line per
 * problem (`file:line: key.path: message`), all of them, not just the first;
 * the message is those lines joined.
 */
export class ConfigError extends BrokerError {
  override readonly code: ConfigErrorCode;
  readonly problems: readonly string[];

  constructor(code: ConfigErrorCode, problems: readonly string[], options?: { cause?: unknown }) {
    super(code, problems.join("\n"), options);
    this.name = "ConfigError";
    this.code = code;
    this.problems = problems;
  }
}
