// The one place that calls pino(). Loggers are created here and passed down;
// no module imports a global logger. Event names live in one string-literal
// union so that a typo fails the type check.

import { type Logger, pino } from "pino";

export type LogEvent =
  | "broker.ready"
  | "broker.stopping"
  | "broker.stopped"
  | "config.warning"
  | "conn.accepted"
  | "conn.closed"
  | "conn.refused"
  | "packet.received"
  | "packet.rejected"
  | "packet.sent"
  | "segment.rolled"
  | "segment.deleted"
  | "session.created"
  | "session.expired"
  | "session.resumed"
  | "session.taken_over"
  | "storage.failed"
  | "storage.recovered";

export type { Logger };

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
