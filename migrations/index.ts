// Front door of migrations/: pure text-to-text conversion of config files
// from older syntaxes to the one the broker runs, plus the TOML scanner the
// conversion edits text with. Imports nothing of ours, so src/config and the
// rumqttd-migrate CLI can both use it without a cycle.
//
// A future syntax change adds one step to STEPS (from the syntax it reads to
// the one it writes) and teaches detectSyntax the new marker; `migrate` runs
// the chain from whatever the input is to the latest.

import { detectSyntax, type Syntax } from "./detect.ts";
import { oldToNew, readToml } from "./old-to-new.ts";
import { MigrationError, type MigrationResult, type MigrationStep } from "./types.ts";

export { detectSyntax, type Syntax } from "./detect.ts";
export { closestKey, editDistance } from "./did-you-mean.ts";
export { indexLines, type KeyPath, type PlacedStatement, placeStatements } from "./toml-paths.ts";
export {
  type KeySegment,
  type Statement,
  scanToml,
  type TomlNode,
  TomlScanError,
} from "./toml-scan.ts";
export { tomlKey, tomlString } from "./toml-text.ts";
export {
  MigrationError,
  type MigrationNote,
  type MigrationResult,
  type MigrationStep,
} from "./types.ts";

/** The syntax the broker runs. */
export const LATEST_SYNTAX: Syntax = "new";

/** Each step reads one syntax and writes the next; the chain ends at LATEST_SYNTAX. */
export const STEPS: readonly MigrationStep[] = [{ from: "old", to: "new", run: oldToNew }];

export interface Migration extends MigrationResult {
  /** The syntax the input was in; "new" means nothing was changed. */
  from: Syntax;
}

/**
 * Converts `text` to the latest syntax. Text already there comes back
 * unchanged (`from` says so). Throws MigrationError when the input is not TOML
 * or not a rumqttd config in any known syntax. Line numbers in the notes of a
 * step refer to that step's input (with one step: the user's file).
 */
export function migrate(text: string): Migration {
  const from = detectSyntax(text);
  if (from === "unknown") throw unknownSyntax(text);
  let result: MigrationResult = { text, changes: [], warnings: [] };
  let syntax: string = from;
  while (syntax !== LATEST_SYNTAX) {
    const step = STEPS.find((s) => s.from === syntax);
    if (step === undefined) throw new Error(`no migration step from syntax "${syntax}"`);
    const next = step.run(result.text);
    result = {
      text: next.text,
      changes: [...result.changes, ...next.changes],
      warnings: [...result.warnings, ...next.warnings],
    };
    syntax = step.to;
  }
  return { ...result, from };
}

function unknownSyntax(text: string): MigrationError {
  // Broken TOML is reported as such, with its line.
  try {
    readToml(text);
  } catch (err) {
    if (err instanceof MigrationError) return err;
    throw err;
  }
  return new MigrationError([
    {
      line: 0,
      key: "",
      message:
        "not a rumqttd config file: it has neither [servers.N] tables (the old syntax) nor [v4.N], [v5.N] or [ws.N] tables (the new syntax)",
    },
  ]);
}
