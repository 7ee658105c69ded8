// Line numbers for key paths in a TOML text. smol-toml parses values but
// forgets where they were written; error messages need `file:line:`.
//
// Who uses it: the config checker, to print `file:line: key.path: message`.
// It builds on the scanner in migrations/ (one TOML scanner for the project)
// and never throws: for text the scanner cannot read it knows no lines, and
// callers print the message without one.

import { indexLines, type KeyPath, scanToml } from "../../migrations/index.ts";

export type { KeyPath };

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export class LineLocator {
  readonly #lines: Map<string, number>;

  constructor(text: string) {
    try {
      this.#lines = indexLines(scanToml(text));
    } catch {
      this.#lines = new Map();
    }
  }

  /**
   * The line that defines `path`, or else the line of its nearest ancestor
   * that is written in the file (a missing key is reported at its table).
   */
  lineOf(path: KeyPath): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const line = this.#lines.get(JSON.stringify(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}

/** `v4.1.connections.auth`, `authorization.rules[2].filter`, `router.custom_segment."a/+".x`. */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = BARE_KEY.test(segment) ? segment : JSON.stringify(segment);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}
