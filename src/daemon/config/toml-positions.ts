// Where each key of a TOML document is written. smol-toml gives positions only for syntax errors, so this
// light scanner walks a document that has already parsed and records, for every key path, the line and
// column where it is first introduced: table headers (`[acme."le"]`, `[[x]]`), dotted keys
// (`tls.acme = "x"`), keys inside inline tables (`tls = { acme = "x" }`) and array elements.
import { type KeyPath, pathId } from './paths.js';

export interface Position {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}

export class PositionIndex {
  readonly #positions = new Map<string, Position>();

  /** Records the first position of a path; later mentions (e.g. `[a.b]` after `[a]`) keep the first one. */
  record(path: KeyPath, position: Position): void {
    const id = pathId(path);
    if (!this.#positions.has(id)) this.#positions.set(id, position);
  }

  /** The exact position of a path, if it is written in the document. */
  get(path: KeyPath): Position | undefined {
    return this.#positions.get(pathId(path));
  }

  /** The position of the path or of its closest written parent (a missing key is reported at its table). */
  nearest(path: KeyPath): Position {
    for (let length = path.length; length > 0; length--) {
      const found = this.#positions.get(pathId(path.slice(0, length)));
      if (found) return found;
    }
    return { line: 1, column: 1 };
  }
}

const BARE_KEY_CHAR = /[A-Za-z0-9_-]/;
const SCALAR_END = new Set([',', ']', '}', '\n', '\r', '#']);
const ESCAPES: Record<string, string> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  e: '\x1b',
  '"': '"',
  '\\': '\\',
};

/** Scans a syntactically valid TOML document. On text smol-toml rejects, the result is best effort. */
export function scanPositions(source: string): PositionIndex {
  return new Scanner(source).run();
}

class Scanner {
  readonly #src: string;
  readonly #index = new PositionIndex();
  readonly #lineStarts: number[] = [0];
  readonly #arrayTableCounts = new Map<string, number>();
  #i = 0;

  constructor(source: string) {
    this.#src = source;
    for (let i = 0; i < source.length; i++) if (source[i] === '\n') this.#lineStarts.push(i + 1);
  }

  run(): PositionIndex {
    let table: string[] = [];
    while (this.#skipBlank(true)) {
      const start = this.#position();
      if (this.#src[this.#i] === '[') {
        const isArray = this.#src[this.#i + 1] === '[';
        this.#i += isArray ? 2 : 1;
        const key = this.#key();
        if (key === undefined) break;
        this.#i += isArray ? 2 : 1;
        if (isArray) {
          const count = this.#arrayTableCounts.get(pathId(key)) ?? 0;
          this.#arrayTableCounts.set(pathId(key), count + 1);
          this.#recordPrefixes(key, start);
          key.push(String(count));
        }
        this.#recordPrefixes(key, start);
        table = key;
      } else if (!this.#keyValue(table)) {
        break;
      }
      this.#skipLine();
    }
    return this.#index;
  }

  #position(at = this.#i): Position {
    let low = 0;
    let high = this.#lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.#lineStarts[mid]! <= at) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: at - this.#lineStarts[low]! + 1 };
  }

  #recordPrefixes(path: KeyPath, position: Position): void {
    for (let length = 1; length <= path.length; length++) this.#index.record(path.slice(0, length), position);
  }

  /** Skips spaces and comments (and newlines when asked); false at the end of the text. */
  #skipBlank(newlines: boolean): boolean {
    const src = this.#src;
    while (this.#i < src.length) {
      const c = src[this.#i]!;
      if (c === ' ' || c === '\t' || (newlines && (c === '\n' || c === '\r'))) this.#i++;
      else if (c === '#') while (this.#i < src.length && src[this.#i] !== '\n') this.#i++;
      else return true;
    }
    return false;
  }

  /** Skips the rest of the current line (only blanks and a comment remain there in valid TOML). */
  #skipLine(): void {
    while (this.#i < this.#src.length && this.#src[this.#i] !== '\n') this.#i++;
  }

  /** A dotted key; leaves the cursor after it and the blanks that follow. */
  #key(): string[] | undefined {
    const segments: string[] = [];
    while (true) {
      this.#skipBlank(false);
      const c = this.#src[this.#i];
      if (c === '"' || c === "'") {
        segments.push(this.#quotedKey(c));
      } else {
        const start = this.#i;
        while (this.#i < this.#src.length && BARE_KEY_CHAR.test(this.#src[this.#i]!)) this.#i++;
        if (this.#i === start) return undefined;
        segments.push(this.#src.slice(start, this.#i));
      }
      this.#skipBlank(false);
      if (this.#src[this.#i] !== '.') return segments;
      this.#i++;
    }
  }

  #quotedKey(quote: string): string {
    const src = this.#src;
    let value = '';
    this.#i++;
    while (this.#i < src.length && src[this.#i] !== quote) {
      const c = src[this.#i]!;
      if (quote === '"' && c === '\\') {
        const e = src[this.#i + 1] ?? '';
        const hexLength = e === 'u' ? 4 : e === 'U' ? 8 : e === 'x' ? 2 : 0;
        if (hexLength > 0) {
          value += String.fromCodePoint(Number.parseInt(src.slice(this.#i + 2, this.#i + 2 + hexLength), 16));
          this.#i += 2 + hexLength;
        } else {
          value += ESCAPES[e] ?? e;
          this.#i += 2;
        }
      } else {
        value += c;
        this.#i++;
      }
    }
    this.#i++;
    return value;
  }

  /** `key = value` inside `table`; records the key and everything nested in the value. */
  #keyValue(table: KeyPath): boolean {
    const start = this.#position();
    const key = this.#key();
    if (key === undefined || this.#src[this.#i] !== '=') return false;
    this.#i++;
    const path = [...table, ...key];
    this.#recordPrefixes(path, start);
    this.#skipBlank(false);
    this.#value(path);
    return true;
  }

  #value(path: KeyPath): void {
    const src = this.#src;
    const c = src[this.#i];
    if (c === '"' || c === "'") {
      this.#string(c);
    } else if (c === '[') {
      this.#i++;
      for (let index = 0; this.#skipBlank(true) && src[this.#i] !== ']'; index++) {
        const elementPath = [...path, String(index)];
        this.#index.record(elementPath, this.#position());
        this.#value(elementPath);
        this.#skipBlank(true);
        if (src[this.#i] === ',') this.#i++;
      }
      this.#i++;
    } else if (c === '{') {
      this.#i++;
      while (this.#skipBlank(true) && src[this.#i] !== '}') {
        if (!this.#keyValue(path)) return;
        this.#skipBlank(true);
        if (src[this.#i] === ',') this.#i++;
      }
      this.#i++;
    } else {
      while (this.#i < src.length && !SCALAR_END.has(src[this.#i]!)) this.#i++;
    }
  }

  #string(quote: string): void {
    const src = this.#src;
    const triple = quote.repeat(3);
    if (src.startsWith(triple, this.#i)) {
      this.#i += 3;
      while (this.#i < src.length && !src.startsWith(triple, this.#i)) {
        this.#i += quote === '"' && src[this.#i] === '\\' ? 2 : 1;
      }
      this.#i += 3;
      // A closing delimiter may be preceded by up to two quotes that belong to the string: `""""x"""""`.
      for (let extra = 0; extra < 2 && src[this.#i] === quote; extra++) this.#i++;
      return;
    }
    this.#i++;
    while (this.#i < src.length && src[this.#i] !== quote && src[this.#i] !== '\n') {
      this.#i += quote === '"' && src[this.#i] === '\\' ? 2 : 1;
    }
    this.#i++;
  }
}
