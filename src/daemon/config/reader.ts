// Typed reads from one table of the configuration. Every getter reports a wrong type or value at the key
// (never quoting secrets) and returns undefined then; `finish` reports the keys nobody read as unknown, with
// a "did you mean" suggestion. Numbers and booleans may also be written as strings, so that macros can
// supply them (`port = "%{env:ACME_PORT}%"`), as Stalwart allows.
import { normalizeDomain } from '../../acme/identifiers.js';
import { InvalidIdentifierError } from '../../errors.js';
import { DURATION_HINT, parseDuration } from './durations.js';
import type { KeyPath } from './paths.js';
import type { Problems } from './problems.js';
import { didYouMean } from './suggest.js';
import { describeType, INVALID, isTable, type TomlTableLike } from './values.js';

/** A list element with the path that locates it (for the line of the problem). */
export interface Element {
  readonly value: string;
  readonly path: KeyPath;
}

export class TableReader {
  readonly problems: Problems;
  readonly path: KeyPath;
  readonly #table: TomlTableLike;
  readonly #used = new Set<string>();

  constructor(problems: Problems, path: KeyPath, table: TomlTableLike) {
    this.problems = problems;
    this.path = path;
    this.#table = table;
  }

  keys(): string[] {
    return Object.keys(this.#table);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#table, key);
  }

  at(key: string): KeyPath {
    return [...this.path, key];
  }

  error(key: string, message: string): void {
    this.problems.error(this.at(key), message);
  }

  warning(key: string, message: string): void {
    this.problems.warning(this.at(key), message);
  }

  /** The raw value, marking the key as read; INVALID values (already reported) come back as undefined. */
  raw(key: string): unknown {
    this.#used.add(key);
    const value = this.has(key) ? this.#table[key] : undefined;
    return value === INVALID ? undefined : value;
  }

  /** Reports a missing key when absent; true when the key is present (valid or not). */
  require(key: string, message: string): boolean {
    if (this.has(key)) return true;
    this.error(key, `missing: ${message}`);
    return false;
  }

  /** A key that must not be given in this context: reports it when present. */
  reject(key: string, message: string): void {
    if (!this.has(key)) return;
    this.#used.add(key);
    this.error(key, message);
  }

  string(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.#wrongType(key, 'a string', value);
    if (value.trim() === '') {
      this.error(key, 'must not be empty');
      return undefined;
    }
    return value;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const number =
      typeof value === 'number' || typeof value === 'bigint'
        ? Number(value)
        : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)
          ? Number(value)
          : undefined;
    if (number === undefined || !Number.isInteger(number)) return this.#wrongType(key, 'an integer', value);
    if (number < min || number > max) {
      this.error(key, `must be from ${min} to ${max}, not ${this.problems.show(this.at(key), number)}`);
      return undefined;
    }
    return number;
  }

  port(key: string): number | undefined {
    return this.integer(key, 1, 65535);
  }

  boolean(key: string): boolean | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return this.#wrongType(key, 'true or false', value);
  }

  duration(key: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      return this.#wrongType(key, `a duration string like "30d"`, value);
    }
    const ms = parseDuration(value);
    if (ms === undefined) {
      this.error(key, `${this.problems.show(this.at(key), value)} is not a duration: ${DURATION_HINT}`);
    }
    return ms;
  }

  /** One of a fixed set of words; a near miss gets a suggestion. */
  oneOf<T extends string>(key: string, allowed: readonly T[], what: string): T | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    return this.checkOneOf(key, value, allowed, what);
  }

  /** Checks a word against a fixed set; `at` locates it (a list element) when it is not the key itself. */
  checkOneOf<T extends string>(
    key: string,
    value: string,
    allowed: readonly T[],
    what: string,
    at: KeyPath = this.at(key),
  ): T | undefined {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    const shown = this.problems.show(at, value);
    const hint = this.problems.isSensitive(at) ? '' : didYouMean(value, allowed);
    this.problems.error(this.at(key), `unknown ${what} ${shown}; expected ${allowed.join(', ')}${hint}`, at);
    return undefined;
  }

  /**
   * A list of non-empty strings; with `single`, one string is taken as a list of one. Returns undefined
   * (after reporting) when the value or any element is wrong, or when an element's macros failed.
   */
  stringList(key: string, options: { single: boolean; what: string; hint?: string }): Element[] | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && !options.single && options.hint !== undefined) {
      this.error(key, `must be a list of ${options.what}s: ${options.hint}`);
      return undefined;
    }
    if (typeof value === 'string' && options.single) {
      if (value.trim() !== '') return [{ value, path: this.at(key) }];
      this.error(key, 'must not be empty');
      return undefined;
    }
    if (!Array.isArray(value)) {
      const expected = options.single ? `${options.what} or a list of them` : `a list of ${options.what}s`;
      return this.#wrongType(key, expected, value);
    }
    const elements: Element[] = [];
    let ok = true;
    for (const [index, element] of value.entries()) {
      const path = [...this.at(key), String(index)];
      if (element === INVALID) {
        ok = false;
      } else if (typeof element !== 'string') {
        this.problems.error(
          this.at(key),
          `element ${index + 1} must be a string, not ${describeType(element)}`,
          path,
        );
        ok = false;
      } else if (element.trim() === '') {
        this.problems.error(this.at(key), `element ${index + 1} must not be empty`, path);
        ok = false;
      } else {
        elements.push({ value: element, path });
      }
    }
    return ok ? elements : undefined;
  }

  /** A domain name normalized for ACME (IDNA, lowercase); reports the reason at `at` when invalid. */
  domain(key: string, text: string, at: KeyPath = this.at(key)): string | undefined {
    try {
      return normalizeDomain(text);
    } catch (error) {
      if (!(error instanceof InvalidIdentifierError)) throw error;
      const shown = this.problems.show(at, text);
      const reason = error.message.replace(/^invalid domain name .*?: /, '');
      this.problems.error(this.at(key), `${shown} is not a valid domain name: ${reason}`, at);
      return undefined;
    }
  }

  /** A nested table (`eab`, `tls`), or undefined when absent or not a table (reported). */
  table(key: string): TableReader | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isTable(value)) return this.#wrongType(key, 'a table', value);
    return new TableReader(this.problems, this.at(key), value);
  }

  /** Reports every key not read, as unknown, suggesting the closest of `known`. */
  finish(known: readonly string[]): void {
    for (const key of this.keys()) {
      if (this.#used.has(key)) continue;
      if (known.includes(key)) this.error(key, 'is not used here');
      else this.error(key, `unknown key${didYouMean(key, known)}`);
    }
  }

  #wrongType(key: string, expected: string, value: unknown): undefined {
    this.error(key, `must be ${expected}, not ${describeType(value)}`);
    return undefined;
  }
}
