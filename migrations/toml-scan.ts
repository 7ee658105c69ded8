// A lossless scanner for TOML text: it splits a document into statements
// (table headers, key/value pairs, comments, blank lines) and records, for
// every key segment, value and comment, its byte offsets and line number.
//
// Who uses it: the migration steps (to edit the text in place, so comments,
// blank lines and table order survive) and src/config's line locator (to put
// line numbers on key paths, which smol-toml does not give).
//
// It does not build values and it does not check TOML's semantic rules
// (redefined tables and the like): smol-toml does that. It only needs to be
// right about where things are. Invariants: statements cover the text in
// order, each statement covers whole lines, and `lineStart`/`lineEnd` of
// consecutive statements touch.

export interface Span {
  start: number;
  end: number;
  line: number;
}

export interface KeySegment extends Span {
  /** The key as TOML reads it (quotes removed, escapes resolved). */
  name: string;
  /** The key as written, quotes included. */
  raw: string;
}

export interface ScalarNode extends Span {
  kind: "scalar";
}

export interface ArrayNode extends Span {
  kind: "array";
  items: TomlNode[];
  /** Comments written between the brackets, in order. */
  comments: Span[];
}

export interface InlineEntry extends Span {
  key: KeySegment[];
  value: TomlNode;
}

export interface InlineNode extends Span {
  kind: "inline";
  entries: InlineEntry[];
  comments: Span[];
}

export type TomlNode = ScalarNode | ArrayNode | InlineNode;

interface LineRange {
  /** 1-based line where the statement starts. */
  line: number;
  /** Offset of the first character of the statement's first line. */
  lineStart: number;
  /** Offset just past the newline ending the statement's last line (or the text's end). */
  lineEnd: number;
}

export interface HeaderStatement extends LineRange, Span {
  kind: "header";
  /** `[[a.b]]` rather than `[a.b]`. */
  array: boolean;
  key: KeySegment[];
  comment?: Span;
}

export interface KeyValStatement extends LineRange, Span {
  kind: "keyval";
  key: KeySegment[];
  value: TomlNode;
  comment?: Span;
}

export interface CommentStatement extends LineRange {
  kind: "comment";
  comment: Span;
}

export interface BlankStatement extends LineRange {
  kind: "blank";
}

export type Statement = HeaderStatement | KeyValStatement | CommentStatement | BlankStatement;

export class TomlScanError extends Error {
  readonly line: number;

  constructor(message: string, line: number) {
    super(message);
    this.name = "TomlScanError";
    this.line = line;
  }
}

const BARE_KEY = /[A-Za-z0-9_-]/;
const VALUE_END = new Set([",", "]", "}", "#", "\n", "\r", " ", "\t"]);
const ESCAPES: Record<string, string> = {
  b: "\b",
  t: "\t",
  n: "\n",
  f: "\f",
  r: "\r",
  e: "\x1b",
  '"': '"',
  "\\": "\\",
};

/** Splits `text` into statements; throws `TomlScanError` on text that is not TOML. */
export function scanToml(text: string): Statement[] {
  return new Scanner(text).document();
}

class Scanner {
  readonly #text: string;
  #pos = 0;
  #line = 1;

  constructor(text: string) {
    this.#text = text;
  }

  document(): Statement[] {
    const out: Statement[] = [];
    while (this.#pos < this.#text.length) out.push(this.#statement());
    return out;
  }

  #statement(): Statement {
    const lineStart = this.#pos;
    const line = this.#line;
    this.#skipSpaces();
    const c = this.#peek();
    if (c === "\n" || c === "\r" || c === "") {
      this.#endOfLine();
      return { kind: "blank", line, lineStart, lineEnd: this.#pos };
    }
    if (c === "#") {
      const comment = this.#comment();
      this.#endOfLine();
      return { kind: "comment", comment, line, lineStart, lineEnd: this.#pos };
    }
    const start = this.#pos;
    if (c === "[") {
      const array = this.#text.startsWith("[[", this.#pos);
      this.#pos += array ? 2 : 1;
      const key = this.#key();
      const close = array ? "]]" : "]";
      if (!this.#text.startsWith(close, this.#pos)) this.#fail(`expected "${close}"`);
      this.#pos += close.length;
      const end = this.#pos;
      const comment = this.#trailer();
      return {
        kind: "header",
        array,
        key,
        start,
        end,
        comment,
        line,
        lineStart,
        lineEnd: this.#pos,
      };
    }
    const key = this.#key();
    if (this.#peek() !== "=") this.#fail('expected "=" after a key');
    this.#pos++;
    this.#skipSpaces();
    const value = this.#value();
    const end = this.#pos;
    const comment = this.#trailer();
    return { kind: "keyval", key, value, start, end, comment, line, lineStart, lineEnd: this.#pos };
  }

  /** After a statement: spaces, an optional comment, then the end of the line. */
  #trailer(): Span | undefined {
    this.#skipSpaces();
    const comment = this.#peek() === "#" ? this.#comment() : undefined;
    const c = this.#peek();
    if (c !== "\n" && c !== "\r" && c !== "") this.#fail("unexpected text after a value");
    this.#endOfLine();
    return comment;
  }

  #comment(): Span {
    const start = this.#pos;
    while (this.#pos < this.#text.length && this.#peek() !== "\n") {
      if (this.#peek() === "\r" && this.#text[this.#pos + 1] === "\n") break;
      this.#pos++;
    }
    return { start, end: this.#pos, line: this.#line };
  }

  #endOfLine(): void {
    if (this.#peek() === "\r") this.#pos++;
    if (this.#peek() === "\n") {
      this.#pos++;
      this.#line++;
    } else if (this.#pos < this.#text.length) {
      this.#fail("expected the end of the line");
    }
  }

  #key(): KeySegment[] {
    const segments: KeySegment[] = [];
    for (;;) {
      this.#skipSpaces();
      segments.push(this.#keySegment());
      this.#skipSpaces();
      if (this.#peek() !== ".") return segments;
      this.#pos++;
    }
  }

  #keySegment(): KeySegment {
    const start = this.#pos;
    const line = this.#line;
    const c = this.#peek();
    let name: string;
    if (c === '"' || c === "'") {
      if (this.#text.startsWith(c.repeat(3), this.#pos)) this.#fail("a key cannot be multi-line");
      name = this.#singleLineString(c);
    } else {
      while (BARE_KEY.test(this.#peek())) this.#pos++;
      if (this.#pos === start) this.#fail("expected a key");
      name = this.#text.slice(start, this.#pos);
    }
    return { name, raw: this.#text.slice(start, this.#pos), start, end: this.#pos, line };
  }

  #value(): TomlNode {
    const c = this.#peek();
    if (c === "[") return this.#array();
    if (c === "{") return this.#inline();
    const start = this.#pos;
    const line = this.#line;
    if (c === '"' || c === "'") {
      if (this.#text.startsWith(c.repeat(3), this.#pos)) this.#multiLineString(c);
      else this.#singleLineString(c);
    } else {
      while (this.#pos < this.#text.length && !VALUE_END.has(this.#peek())) this.#pos++;
      // Dates may hold one space between the date and the time.
      if (/^\d{4}-\d{2}-\d{2}$/.test(this.#text.slice(start, this.#pos))) {
        if (this.#peek() === " " && /\d/.test(this.#text[this.#pos + 1] ?? "")) {
          this.#pos++;
          while (this.#pos < this.#text.length && !VALUE_END.has(this.#peek())) this.#pos++;
        }
      }
      if (this.#pos === start) this.#fail("expected a value");
    }
    return { kind: "scalar", start, end: this.#pos, line };
  }

  #array(): ArrayNode {
    const start = this.#pos;
    const line = this.#line;
    const items: TomlNode[] = [];
    const comments: Span[] = [];
    this.#pos++;
    for (;;) {
      this.#skipBlank(comments);
      if (this.#peek() === "]") break;
      items.push(this.#value());
      this.#skipBlank(comments);
      if (this.#peek() === ",") this.#pos++;
      else if (this.#peek() !== "]") this.#fail('expected "," or "]" in an array');
    }
    this.#pos++;
    return { kind: "array", start, end: this.#pos, line, items, comments };
  }

  #inline(): InlineNode {
    const start = this.#pos;
    const line = this.#line;
    const entries: InlineEntry[] = [];
    const comments: Span[] = [];
    this.#pos++;
    for (;;) {
      this.#skipBlank(comments);
      if (this.#peek() === "}") break;
      const entryStart = this.#pos;
      const entryLine = this.#line;
      const key = this.#key();
      if (this.#peek() !== "=") this.#fail('expected "=" in an inline table');
      this.#pos++;
      this.#skipSpaces();
      const value = this.#value();
      entries.push({ key, value, start: entryStart, end: this.#pos, line: entryLine });
      this.#skipBlank(comments);
      if (this.#peek() === ",") this.#pos++;
      else if (this.#peek() !== "}") this.#fail('expected "," or "}" in an inline table');
    }
    this.#pos++;
    return { kind: "inline", start, end: this.#pos, line, entries, comments };
  }

  /** Skips spaces, newlines and comments inside brackets, collecting the comments. */
  #skipBlank(comments: Span[]): void {
    for (;;) {
      this.#skipSpaces();
      const c = this.#peek();
      if (c === "#") comments.push(this.#comment());
      else if (c === "\n" || c === "\r") this.#endOfLine();
      else if (c === "") this.#fail("unterminated array or inline table");
      else return;
    }
  }

  #singleLineString(quote: string): string {
    this.#pos++;
    let out = "";
    for (;;) {
      const c = this.#peek();
      if (c === "" || c === "\n" || c === "\r") this.#fail("unterminated string");
      this.#pos++;
      if (c === quote) return out;
      if (c === "\\" && quote === '"') out += this.#escape();
      else out += c;
    }
  }

  #escape(): string {
    const c = this.#peek();
    this.#pos++;
    const simple = ESCAPES[c];
    if (simple !== undefined) return simple;
    const digits = c === "u" ? 4 : c === "U" ? 8 : c === "x" ? 2 : 0;
    const hex = this.#text.slice(this.#pos, this.#pos + digits);
    if (digits === 0 || !/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== digits) {
      this.#fail("invalid escape in a string");
    }
    this.#pos += digits;
    return String.fromCodePoint(Number.parseInt(hex, 16));
  }

  #multiLineString(quote: string): void {
    const delimiter = quote.repeat(3);
    this.#pos += 3;
    for (;;) {
      const c = this.#peek();
      if (c === "") this.#fail("unterminated multi-line string");
      if (this.#text.startsWith(delimiter, this.#pos)) {
        this.#pos += 3;
        // Up to two more quotes may close the string as part of its content.
        for (let i = 0; i < 2 && this.#peek() === quote; i++) this.#pos++;
        return;
      }
      if (c === "\\" && quote === '"') this.#pos++;
      if (this.#text[this.#pos] === "\n") this.#line++;
      this.#pos++;
    }
  }

  #skipSpaces(): void {
    while (this.#peek() === " " || this.#peek() === "\t") this.#pos++;
  }

  #peek(): string {
    return this.#text[this.#pos] ?? "";
  }

  #fail(message: string): never {
    throw new TomlScanError(message, this.#line);
  }
}
