// The collector every validation step reports into: turns a key path into FILE:LINE and a dotted key, and
// decides whether a value may be quoted in a message (never for secrets, nor for text read from a file or
// the environment, which may be a secret under another name).
import type { ConfigProblem, ProblemSeverity } from './errors.js';
import { formatKey, type KeyPath, pathId } from './paths.js';
import type { PositionIndex } from './toml-positions.js';

/** Keys whose values are secrets wherever they appear (`eab.hmac-key`, `secret`, `private-key`). */
const SECRET_KEYS = new Set(['hmac-key', 'secret', 'private-key']);

export function isSecretKey(path: KeyPath): boolean {
  return path.some((segment) => SECRET_KEYS.has(segment));
}

export class Problems {
  readonly file: string;
  readonly #positions: PositionIndex;
  readonly #list: ConfigProblem[] = [];
  readonly #sensitive = new Set<string>();

  constructor(file: string, positions: PositionIndex) {
    this.file = file;
    this.#positions = positions;
  }

  get list(): readonly ConfigProblem[] {
    return this.#list;
  }

  get errorCount(): number {
    return this.#list.filter((p) => p.severity === 'error').length;
  }

  /** An error on `path`, placed at the line of `at` (an array element, say) or of the path itself. */
  error(path: KeyPath, message: string, at: KeyPath = path): void {
    this.#add('error', path, message, at);
  }

  warning(path: KeyPath, message: string, at: KeyPath = path): void {
    this.#add('warning', path, message, at);
  }

  /** A problem with a known position and no key path (syntax errors, an unreadable file). */
  raw(problem: Omit<ConfigProblem, 'file'>): void {
    this.#list.push({ ...problem, file: this.file });
  }

  /** The line where a path (or, when it is not written, its closest table) is. */
  lineOf(path: KeyPath): number {
    return this.#positions.nearest(path).line;
  }

  /** Marks a value as not to be quoted (it came from a file or environment variable, or from a secret). */
  markSensitive(path: KeyPath): void {
    this.#sensitive.add(pathId(path));
  }

  isSensitive(path: KeyPath): boolean {
    return isSecretKey(path) || this.#sensitive.has(pathId(path));
  }

  /** The value quoted for a message, or a neutral word when it must not be shown. */
  show(path: KeyPath, value: unknown): string {
    if (this.isSensitive(path)) return '(value hidden)';
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  }

  #add(severity: ProblemSeverity, path: KeyPath, message: string, at: KeyPath): void {
    this.#list.push({ severity, file: this.file, line: this.lineOf(at), key: formatKey(path), message });
  }
}
