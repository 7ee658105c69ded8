// The working state of one text rewrite: the scanned statements, the edits
// planned so far, the changes and warnings to report, and the statements a
// rule has taken over (so that no other rule edits them too).
//
// Who uses it: the old-to-new step and its rule files. Edits are collected
// and applied once at the end, against the original offsets, so rules never
// see each other's output.

import type { KeyPath, PlacedStatement } from "./toml-paths.ts";
import type { InlineEntry, KeySegment, Statement, TomlNode } from "./toml-scan.ts";
import { applyEdits, type Edit, formatPath, indentAt } from "./toml-text.ts";
import type { MigrationNote, MigrationResult } from "./types.ts";

export type KeyedStatement = Extract<Statement, { kind: "header" | "keyval" }>;

/** A key written somewhere: a key/value statement or an entry of an inline table. */
export interface KeyVisit {
  statement: KeyedStatement;
  /** The absolute path the key defines. */
  path: readonly string[];
  key: readonly KeySegment[];
  value: TomlNode;
  /** The inline table holding the entry, and the entry; absent for a statement. */
  inline?: { entries: readonly InlineEntry[]; index: number };
}

export class Rewrite {
  readonly text: string;
  readonly placed: readonly PlacedStatement[];
  readonly #edits: Edit[] = [];
  readonly #changes: MigrationNote[] = [];
  readonly #warnings: MigrationNote[] = [];
  readonly #taken = new Set<Statement>();

  constructor(text: string, placed: readonly PlacedStatement[]) {
    this.text = text;
    this.placed = placed;
  }

  replace(start: number, end: number, text: string): void {
    this.#edits.push({ start, end, text });
  }

  /** Inserts `text` at `at`; the returned edit's text may still be changed before `result()`. */
  insert(at: number, text: string): Edit {
    const edit = { start: at, end: at, text };
    this.#edits.push(edit);
    return edit;
  }

  /** Inserts a whole line after the statement's last line. */
  insertLineAfter(statement: Statement, line: string): void {
    const end = statement.lineEnd;
    const newline = end > 0 && this.text[end - 1] !== "\n" ? "\n" : "";
    this.insert(end, `${newline}${line}\n`);
  }

  insertLineBefore(statement: Statement, line: string): void {
    this.insert(statement.lineStart, `${line}\n`);
  }

  /** Removes a statement's lines; its trailing comment stays, as a line of its own. */
  removeLines(statement: KeyedStatement): void {
    const comment = statement.comment;
    const kept = comment ? `${this.indentOf(statement)}${this.slice(comment)}\n` : "";
    this.replace(statement.lineStart, statement.lineEnd, kept);
  }

  indentOf(statement: Statement): string {
    return indentAt(this.text, statement.lineStart);
  }

  slice(span: { start: number; end: number }): string {
    return this.text.slice(span.start, span.end);
  }

  take(statement: Statement): void {
    this.#taken.add(statement);
  }

  isTaken(statement: Statement): boolean {
    return this.#taken.has(statement);
  }

  change(line: number, path: KeyPath, message: string): void {
    this.#changes.push({ line, key: formatPath(path), message });
  }

  warn(line: number, path: KeyPath, message: string): void {
    this.#warnings.push({ line, key: formatPath(path), message });
  }

  /** The statements after the header at `index`, up to the next header. */
  section(index: number): PlacedStatement[] {
    const out: PlacedStatement[] = [];
    for (const placed of this.placed.slice(index + 1)) {
      if (placed.statement.kind === "header") break;
      out.push(placed);
    }
    return out;
  }

  /** Every key written in the file, statements and inline entries, not taken by a rule. */
  keys(): KeyVisit[] {
    const out: KeyVisit[] = [];
    for (const { statement, path } of this.placed) {
      if (statement.kind !== "keyval" || this.isTaken(statement)) continue;
      const names = path.map(String);
      out.push({ statement, path: names, key: statement.key, value: statement.value });
      visitInline(statement, statement.value, names, out);
    }
    return out;
  }

  result(): MigrationResult {
    const byLine = (a: MigrationNote, b: MigrationNote) => a.line - b.line;
    return {
      text: applyEdits(this.text, this.#edits),
      changes: [...this.#changes].sort(byLine),
      warnings: [...this.#warnings].sort(byLine),
    };
  }
}

function visitInline(
  statement: KeyedStatement,
  node: TomlNode,
  path: readonly string[],
  out: KeyVisit[],
): void {
  if (node.kind !== "inline") return;
  for (const [index, entry] of node.entries.entries()) {
    const entryPath = [...path, ...entry.key.map((k) => k.name)];
    const inline = { entries: node.entries, index };
    out.push({ statement, path: entryPath, key: entry.key, value: entry.value, inline });
    visitInline(statement, entry.value, entryPath, out);
  }
}
