#!/usr/bin/env node
// The `rumqttd-migrate` entry point: converts a config file from rumqttd's old
// syntax to the new one (CONFIG.md), prints every change and warning on
// standard error, and checks its output with the broker's own loader before
// writing anything.
//
// Exit codes: 0 converted (or already new), 1 a failure of ours or of the
// file system, 2 bad usage or input that is not valid old syntax.
// One-line causes on standard error; a stack only with --debug.

import { copyFile, readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { MigrationError, type MigrationNote, migrate } from "../../migrations/index.ts";
import { parseConfig } from "../config/index.ts";
import { ConfigError } from "../errors.ts";

const USAGE = `Usage: rumqttd-migrate [options] FILE

Converts FILE from rumqttd's old config syntax ([servers.N], cert_path,
login_credentials, [cluster], [replicator], router.dir) to the new syntax the
broker runs ([v4.N], [v4.N.tls], auth, storage.dir), keeping comments, blank
lines and the order of tables. Changes and warnings go to standard error.

Options:
  -o, --output FILE  write the new config to FILE instead of standard output
  -i, --in-place     replace FILE, keeping the original as FILE.bak
      --debug        print stack traces for unexpected failures
  -h, --help         show this help

Exit codes: 0 done (or FILE was already new syntax), 1 unexpected failure,
2 bad usage or FILE is not a valid old-syntax config.
`;

/** A failure with its exit code and a one-line message. */
class ExitError extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

interface Options {
  file: string;
  output?: string;
  inPlace: boolean;
}

function parseOptions(args: string[]): Options | "help" {
  let parsed: ReturnType<typeof parseArgsStrict>;
  try {
    parsed = parseArgsStrict(args);
  } catch (err) {
    throw new ExitError(2, `${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 1) {
    throw new ExitError(2, `expected one FILE, got ${positionals.length}\n\n${USAGE}`);
  }
  if (values.output !== undefined && values["in-place"]) {
    throw new ExitError(2, "give either -o FILE or --in-place, not both");
  }
  const file = positionals[0] as string;
  const options: Options = { file, inPlace: values["in-place"] === true };
  if (values.output !== undefined) options.output = values.output;
  return options;
}

function parseArgsStrict(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      "in-place": { type: "boolean", short: "i" },
      debug: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  if (options === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const { file } = options;
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new ExitError(2, `${file}: cannot read the file (${err.code ?? err.message})`, {
      cause: err,
    });
  });
  let result: ReturnType<typeof migrate>;
  try {
    result = migrate(text);
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    const lines = err.problems.map((p) => note(file, p));
    const message = `${lines.join("\n")}\nrumqttd-migrate: ${file} is not a valid old-syntax config; nothing was written`;
    throw new ExitError(2, message, { cause: err });
  }
  if (result.from === "new") {
    process.stderr.write(`${file}: already in the new config syntax; nothing to change\n`);
  }
  for (const change of result.changes) process.stderr.write(`${note(file, change)}\n`);
  for (const warning of result.warnings)
    process.stderr.write(`${note(file, warning, "warning: ")}\n`);
  checkOutput(result.text, options.output ?? file);
  await write(options, text, result.text);
  const counted = `${result.changes.length} changes, ${result.warnings.length} warnings`;
  if (result.from !== "new")
    process.stderr.write(`${file}: converted (${counted}); ${where(options)}\n`);
}

/** `file:line: key: message`, leaving out what is unknown. */
function note(file: string, n: MigrationNote, prefix = ""): string {
  const where = n.line > 0 ? `${file}:${n.line}` : file;
  return n.key === ""
    ? `${where}: ${prefix}${n.message}`
    : `${where}: ${n.key}: ${prefix}${n.message}`;
}

/** The output must load in the broker; if it does not, that is our bug, not the user's. */
function checkOutput(text: string, file: string): void {
  try {
    parseConfig(text, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = `internal error: the converted config does not load in the broker (nothing was written):\n${err.message}\nplease report this with your file`;
    throw new ExitError(1, message, { cause: err });
  }
}

async function write(options: Options, input: string, output: string): Promise<void> {
  if (options.output !== undefined) {
    await writeAtomically(options.output, output);
  } else if (options.inPlace) {
    if (output === input) return;
    await copyFile(options.file, `${options.file}.bak`);
    await writeAtomically(options.file, output);
  } else {
    process.stdout.write(output);
  }
}

/** Writes a sibling temporary file and renames it over `file`, so a crash leaves the old or the new file, never half. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  await writeFile(temporary, text, { encoding: "utf8", flag: "w" });
  await rename(temporary, file);
}

function where(options: Options): string {
  if (options.output !== undefined) return `written to ${options.output}`;
  if (options.inPlace) return `replaced it; the original is in ${options.file}.bak`;
  return "written to standard output";
}

async function main(): Promise<void> {
  const debug = process.argv.includes("--debug");
  try {
    await run(process.argv.slice(2));
    process.exitCode = 0;
  } catch (err) {
    // Input problems are printed as `file:line: key: message` lines of their
    // own; everything else gets the command's name in front.
    const message = err instanceof Error ? err.message : String(err);
    const plain = err instanceof ExitError && err.cause instanceof MigrationError;
    process.stderr.write(plain ? `${message}\n` : `rumqttd-migrate: ${message}\n`);
    const exitCode = err instanceof ExitError ? err.exitCode : 1;
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCode;
  }
}

await main();
