// Typed reads of parsed TOML values that collect problems instead of throwing,
// so a config file with five mistakes gets five lines at once.
//
// Who uses it: the section readers in this folder. Each read returns a usable
// value (the default when the key is missing or wrong), records a problem when
// the value is wrong, and never throws. Integers arrive as bigint (smol-toml
// `integersAsBigInt`), so `1.5` is told apart from `1`.

import { closestKey } from "../../migrations/index.ts";
import { formatKeyPath, type KeyPath, type LineLocator } from "./line-locator.ts";
import type { ConfigWarning } from "./types.ts";

export type Table = Record<string, unknown>;

export interface IntRange {
  min: number;
  max: number;
}

/** Integers that fit in a JavaScript number, for keys without a tighter limit. */
export const ANY_COUNT: IntRange = { min: 0, max: Number.MAX_SAFE_INTEGER };

interface Located<T> {
  line: number;
  item: T;
}

export class Checker {
  readonly #problems: Located<string>[] = [];
  readonly #warnings: Located<ConfigWarning>[] = [];
  readonly #file: string;
  readonly #locator: LineLocator;

  constructor(file: string, locator: LineLocator) {
    this.#file = file;
    this.#locator = locator;
  }

  problem(path: KeyPath, message: string): void {
    this.#problems.push({ line: this.#lineOf(path), item: this.format(path, message) });
  }

  warn(path: KeyPath, message: string): void {
    const warning = { text: this.format(path, message), keyPath: formatKeyPath(path) };
    this.#warnings.push({ line: this.#lineOf(path), item: warning });
  }

  /** The problems so far, in file order (problems without a line come first). */
  get problems(): string[] {
    return inFileOrder(this.#problems);
  }

  get warnings(): ConfigWarning[] {
    return inFileOrder(this.#warnings);
  }

  /** Drops warnings recorded after the first `count` (for tables read twice). */
  dropWarningsAfter(count: number): void {
    this.#warnings.splice(count);
  }

  get warningCount(): number {
    return this.#warnings.length;
  }

  #lineOf(path: KeyPath): number {
    return this.#locator.lineOf(path) ?? 0;
  }

  /** `file:line: key.path: message`; the line or the key is left out when unknown. */
  format(path: KeyPath, message: string): string {
    const line = this.#locator.lineOf(path);
    const where = line === undefined ? this.#file : `${this.#file}:${line}`;
    return path.length === 0
      ? `${where}: ${message}`
      : `${where}: ${formatKeyPath(path)}: ${message}`;
  }

  /** The table at `path`, or undefined (with a problem) when the value is something else. */
  table(value: unknown, path: KeyPath): Table | undefined {
    if (value === undefined) return undefined;
    if (isTable(value)) return value;
    this.problem(path, `expected a table, found ${describe(value)}`);
    return undefined;
  }

  /** One problem per key of `table` not in `known`, with a hint when one is close. */
  knownKeys(table: Table, path: KeyPath, known: readonly string[], hint?: string): void {
    for (const key of Object.keys(table)) {
      if (known.includes(key)) continue;
      const close = closestKey(key, known);
      const extra =
        close !== undefined ? ` (did you mean \`${close}\`?)` : hint ? ` (${hint})` : "";
      this.problem([...path, key], `unknown key${extra}`);
    }
  }

  int(table: Table, key: string, path: KeyPath, fallback: number, range: IntRange): number {
    return this.optionalInt(table, key, path, range) ?? fallback;
  }

  optionalInt(table: Table, key: string, path: KeyPath, range: IntRange): number | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value !== "bigint") {
      this.problem([...path, key], `expected an integer, found ${describe(value)}`);
      return undefined;
    }
    if (value < BigInt(range.min) || value > BigInt(range.max)) {
      this.problem([...path, key], `${value} is out of range (${range.min} to ${range.max})`);
      return undefined;
    }
    return Number(value);
  }

  optionalString(table: Table, key: string, path: KeyPath): string | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value === "string") return value;
    this.problem([...path, key], `expected a string, found ${describe(value)}`);
    return undefined;
  }

  string(table: Table, key: string, path: KeyPath, fallback: string): string {
    return this.optionalString(table, key, path) ?? fallback;
  }

  optionalBool(table: Table, key: string, path: KeyPath): boolean | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value === "boolean") return value;
    this.problem([...path, key], `expected true or false, found ${describe(value)}`);
    return undefined;
  }

  bool(table: Table, key: string, path: KeyPath, fallback: boolean): boolean {
    return this.optionalBool(table, key, path) ?? fallback;
  }

  oneOf<T extends string>(
    table: Table,
    key: string,
    path: KeyPath,
    choices: readonly T[],
    fallback: T,
  ): T {
    const value = this.optionalString(table, key, path);
    if (value === undefined) return fallback;
    const match = choices.find((c) => c === value);
    if (match !== undefined) return match;
    const list = choices.map((c) => `"${c}"`).join(", ");
    this.problem([...path, key], `"${value}" is not one of ${list}`);
    return fallback;
  }

  optionalStringList(table: Table, key: string, path: KeyPath): string[] | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
    this.problem([...path, key], `expected a list of strings, found ${describe(value)}`);
    return undefined;
  }
}

function inFileOrder<T>(list: readonly Located<T>[]): T[] {
  return [...list].sort((a, b) => a.line - b.line).map((x) => x.item);
}

export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isDate(value);
}

function isDate(value: object): boolean {
  return value instanceof Date;
}

/** A short description of a value's TOML type, for messages. */
export function describe(value: unknown): string {
  if (typeof value === "bigint") return `the integer ${value}`;
  if (typeof value === "number") return `the float ${value}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "boolean") return `${value}`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null && isDate(value)) return "a date";
  return "a table";
}
