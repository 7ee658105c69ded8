#!/usr/bin/env node
// The `rumqttd` entry point: arguments, config loading, start, signals and
// exit codes. `--check` validates the config and exits. SIGTERM / SIGINT stop
// the broker gracefully (stop accepting, finish the commit in progress, close
// the log and the index) and exit 0.
//
// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid input. A
// one-line cause goes to stderr; the stack only with --debug.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { planListeners, startBroker } from "../broker.ts";
import { loadConfig } from "../config/index.ts";
import { BrokerError, ConfigError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";

const USAGE = `Usage: rumqttd --config FILE [options]

Options:
  -c, --config FILE     the broker's config file (TOML, new syntax)
      --check           validate the config file and exit
      --log-level LEVEL trace | debug | info | warn | error | fatal (default: info)
      --debug           print stacks with errors
  -h, --help            show this help
  -V, --version         print the version

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid input.`;

const LOG_LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

interface Args {
  config?: string;
  check: boolean;
  help: boolean;
  version: boolean;
  debug: boolean;
  logLevel: string;
}

function usageError(message: string): BrokerError {
  return new BrokerError("ERR_USAGE", `${message} (see rumqttd --help)`);
}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { check: false, help: false, version: false, debug: false, logLevel: "info" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split("=", 2) : [arg];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw usageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-c":
      case "--config":
        args.config = value();
        break;
      case "--check":
        args.check = true;
        break;
      case "--log-level":
        args.logLevel = value();
        if (!LOG_LEVELS.has(args.logLevel)) throw usageError(`unknown log level ${args.logLevel}`);
        break;
      case "--debug":
        args.debug = true;
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      case "-V":
      case "--version":
        args.version = true;
        break;
      default:
        throw usageError(`unknown argument ${arg}`);
    }
  }
  return args;
}

/** The package version, found by walking up from this file (src/ or dist/src/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return "unknown";
}

function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return 2;
  if (
    error instanceof BrokerError &&
    (error.code === "ERR_USAGE" || error.code === "ERR_UNSUPPORTED")
  ) {
    return 2;
  }
  return 1;
}

function report(error: unknown, debug: boolean): void {
  if (error instanceof ConfigError) {
    for (const line of error.problems) process.stderr.write(`${line}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`rumqttd: ${message}\n`);
  }
  if (debug && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
}

function exitAfterFlush(logger: Logger, code: number): void {
  logger.flush(() => process.exit(code));
}

async function main(argv: readonly string[]): Promise<void> {
  let args: Args = { check: false, help: false, version: false, debug: false, logLevel: "info" };
  try {
    args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (args.version) {
      process.stdout.write(`rumqttd ${packageVersion()}\n`);
      return;
    }
    if (args.config === undefined) throw usageError("--config FILE is required");
    const config = await loadConfig(args.config);
    if (args.check) {
      for (const warning of config.warnings) process.stderr.write(`${warning.text}\n`);
      planListeners(config);
      process.stdout.write(`${config.file}: ok\n`);
      return;
    }
    const logger = createLogger({ level: args.logLevel });
    const broker = await startBroker(config, logger, {
      onFatal: () => {
        // The log failed: never acknowledge again. Exit so a supervisor restarts us on recovery.
        exitAfterFlush(logger, 1);
      },
    });
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ event: "broker.signal_received", signal }, "signal received");
      broker.close().then(
        () => exitAfterFlush(logger, 0),
        (error: unknown) => {
          logger.error({ event: "broker.failed", err: error }, "graceful stop failed");
          exitAfterFlush(logger, 1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  } catch (error) {
    report(error, args.debug);
    process.exitCode = exitCodeOf(error);
  }
}

await main(process.argv.slice(2));
