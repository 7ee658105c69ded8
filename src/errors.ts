// The shared error base. Every error the broker raises on purpose carries a
// stable `code` string; tests and callers branch on the code, never on the
// message text. Causes are chained with `{ cause }`.
//
// Who uses it: every module in src/. It imports nothing of ours.

export type BrokerErrorCode =
  | "ERR_CONFIG_INVALID"
  | "ERR_CONFIG_OLD_SYNTAX"
  | "ERR_CONFIG_READ"
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
