// Absolute key paths for scanned TOML statements, and an index from every key
// path to the line that first defines it.
//
// Who uses it: the migration steps (to know which table a line belongs to)
// and src/config's line locator (to print `file:line: key.path: message`).
// A path is a list of segments: strings for keys, numbers for the position in
// an array (`[[a]]` tables and array items). It works on scanner output only
// and never looks at values.

import type { Statement, TomlNode } from "./toml-scan.ts";

export type KeyPath = readonly (string | number)[];

export interface PlacedStatement {
  statement: Statement;
  /** The table a key/value belongs to (for a header: its parent's path). */
  context: KeyPath;
  /** The absolute path a header or key/value defines; empty for comments and blanks. */
  path: KeyPath;
}

/** Gives each statement its context table and absolute path, in document order. */
export function placeStatements(statements: readonly Statement[]): PlacedStatement[] {
  const arrayCounts = new Map<string, number>();
  let table: KeyPath = [];
  const out: PlacedStatement[] = [];
  for (const statement of statements) {
    if (statement.kind === "header") {
      const names = statement.key.map((k) => k.name);
      const path = resolveHeader(names, table, statement.array, arrayCounts);
      out.push({ statement, context: [], path });
      table = path;
    } else if (statement.kind === "keyval") {
      out.push({
        statement,
        context: table,
        path: [...table, ...statement.key.map((k) => k.name)],
      });
    } else {
      out.push({ statement, context: table, path: [] });
    }
  }
  return out;
}

/**
 * A header names keys only; inside an array of tables the current element is
 * meant, so `[[a]]` then `[a.b]` means a[last].b.
 */
function resolveHeader(
  names: string[],
  current: KeyPath,
  array: boolean,
  arrayCounts: Map<string, number>,
): KeyPath {
  const path: (string | number)[] = [];
  for (const [i, name] of names.entries()) {
    path.push(name);
    const isLast = i === names.length - 1;
    const id = JSON.stringify(path);
    if (isLast && array) {
      const index = arrayCounts.get(id) ?? 0;
      arrayCounts.set(id, index + 1);
      path.push(index);
    } else if (arrayCounts.has(id) && startsWith(current, path)) {
      path.push(current[path.length] as number);
    } else if (arrayCounts.has(id)) {
      path.push((arrayCounts.get(id) ?? 1) - 1);
    }
  }
  return path;
}

function startsWith(path: KeyPath, prefix: KeyPath): boolean {
  return prefix.every((segment, i) => path[i] === segment);
}

/** Maps every key path (JSON of its segments) to the line that first defines it. */
export function indexLines(statements: readonly Statement[]): Map<string, number> {
  const lines = new Map<string, number>();
  const add = (path: KeyPath, line: number) => {
    for (let i = 1; i <= path.length; i++) {
      const id = JSON.stringify(path.slice(0, i));
      if (!lines.has(id)) lines.set(id, line);
    }
  };
  for (const placed of placeStatements(statements)) {
    const { statement, path } = placed;
    if (statement.kind === "header") add(path, statement.line);
    if (statement.kind === "keyval") {
      add(path, statement.key.at(-1)?.line ?? statement.line);
      indexNode(statement.value, path, add);
    }
  }
  return lines;
}

function indexNode(node: TomlNode, path: KeyPath, add: (p: KeyPath, line: number) => void): void {
  if (node.kind === "array") {
    for (const [i, item] of node.items.entries()) {
      add([...path, i], item.line);
      indexNode(item, [...path, i], add);
    }
  } else if (node.kind === "inline") {
    for (const entry of node.entries) {
      const entryPath = [...path, ...entry.key.map((k) => k.name)];
      add(entryPath, entry.line);
      indexNode(entry.value, entryPath, add);
    }
  }
}
