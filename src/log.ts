// The one place that calls pino(). Loggers are created here and passed down;
// no module imports a global logger. Event names live in one string-literal
// union so that a typo fails the type check.

import { pino } from "pino";

export type LogEvent =
  | "access.denied"
  | "auth.failed"
  | "auth.succeeded"
  | "broker.failed"
  | "broker.ready"
  | "broker.signal_received"
  | "broker.stopping"
  | "broker.stopped"
  | "config.warning"
  | "conn.accepted"
  | "conn.closed"
  | "conn.failed"
  | "conn.refused"
  | "message.dropped"
  | "message.expired"
  | "message.skipped"
  | "packet.dropped"
  | "packet.failed"
  | "packet.received"
  | "packet.rejected"
  | "packet.sent"
  | "packet.unknown_id"
  | "router.restored"
  | "segment.rolled"
  | "segment.deleted"
  | "session.created"
  | "session.expired"
  | "session.inflight_lost"
  | "session.messages_lost"
  | "session.saved"
  | "session.resumed"
  | "session.taken_over"
  | "storage.corrupt"
  | "storage.failed"
  | "storage.recovered"
  | "will.failed";

/** The fields of a log line: always an event, then whatever the event needs (snake_case). */
export interface LogFields {
  event: LogEvent;
  [field: string]: unknown;
}

type LogFn = (fields: LogFields, msg: string) => void;

/**
 * The logger every module is handed: pino's, narrowed so that each line must
 * name its event from LogEvent (a typo or a missing event fails `tsc`).
 */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
  level: string;
  flush(callback?: (err?: Error) => void): void;
}

export interface LoggerOptions {
  level: string;
  /** Where to write; defaults to standard output (file descriptor 1). */
  destination?: number | string;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["password", "*.password"], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: options.destination ?? 1, sync: false }),
  );
}

/**
 * A child logger for something there are many of (one per connection): it
 * keeps its fields in one small object and adds them to each line it writes,
 * where a pino child costs several hundred bytes (its own hidden class, the
 * serialized bindings, and a new prototype for each child of a child). The
 * lines are the same: the fields come first, then the line's own.
 * Its `child()` returns another FieldLogger; nothing here calls pino.child.
 */
class FieldLogger implements Logger {
  readonly #parent: Logger;
  readonly #fields: Record<string, unknown>;

  constructor(parent: Logger, fields: Record<string, unknown>) {
    this.#parent = parent;
    this.#fields = fields;
  }

  fatal(fields: LogFields, msg: string): void {
    this.#parent.fatal({ ...this.#fields, ...fields }, msg);
  }

  error(fields: LogFields, msg: string): void {
    this.#parent.error({ ...this.#fields, ...fields }, msg);
  }

  warn(fields: LogFields, msg: string): void {
    this.#parent.warn({ ...this.#fields, ...fields }, msg);
  }

  info(fields: LogFields, msg: string): void {
    this.#parent.info({ ...this.#fields, ...fields }, msg);
  }

  debug(fields: LogFields, msg: string): void {
    this.#parent.debug({ ...this.#fields, ...fields }, msg);
  }

  trace(fields: LogFields, msg: string): void {
    this.#parent.trace({ ...this.#fields, ...fields }, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    // Copied key by key: an object spread here gives every connection's fields
    // object a hidden class of its own (some 180 bytes each).
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(this.#fields)) fields[key] = this.#fields[key];
    for (const key of Object.keys(bindings)) fields[key] = bindings[key];
    return new FieldLogger(this.#parent, fields);
  }

  isLevelEnabled(level: string): boolean {
    return this.#parent.isLevelEnabled(level);
  }

  get level(): string {
    return this.#parent.level;
  }

  set level(level: string) {
    // One level for all connections: set it on the parent (the listener's logger).
    this.#parent.level = level;
  }

  flush(callback?: (err?: Error) => void): void {
    this.#parent.flush(callback);
  }
}

/** A logger that adds `fields` to every line, cheap enough to make one per connection. */
export function withFields(parent: Logger, fields: Record<string, unknown>): Logger {
  return new FieldLogger(parent, fields);
}
