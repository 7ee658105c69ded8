// The types every migration step shares: what a step returns, how it reports
// a change or a warning, and the error for input it cannot convert.
//
// Who uses it: the steps in this folder, migrations/index.ts and the
// rumqttd-migrate CLI. Imports nothing of ours.

/** One change made or one warning raised, at a line of the input text. */
export interface MigrationNote {
  /** 1-based line in the input text; 0 when the note is about the whole file. */
  line: number;
  /** The key path it is about, in the input's names (`servers.1.cert.ca_path`). */
  key: string;
  message: string;
}

export interface MigrationResult {
  text: string;
  changes: MigrationNote[];
  warnings: MigrationNote[];
}

/** One step from a syntax to the next one; pure text to text. */
export interface MigrationStep {
  from: string;
  to: string;
  run(text: string): MigrationResult;
}

/**
 * Input a step cannot convert: broken TOML, or not valid in the syntax the
 * step reads. `problems` lists every problem found, each with line and key.
 */
export class MigrationError extends Error {
  readonly code = "ERR_MIGRATE_INVALID_INPUT";
  readonly problems: readonly MigrationNote[];

  constructor(problems: readonly MigrationNote[]) {
    super(problems.map((p) => `${p.line}: ${p.key}: ${p.message}`).join("\n"));
    this.name = "MigrationError";
    this.problems = problems;
  }
}
