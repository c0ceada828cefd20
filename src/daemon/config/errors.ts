// Problems found in a configuration file, each at FILE:LINE and a dotted KEY, and the ConfigError the
// daemon throws when a configuration it must run with has errors. Messages never carry secret values.
import { TlswardError } from '../../errors.js';

export type ProblemSeverity = 'error' | 'warning';

export interface ConfigProblem {
  readonly severity: ProblemSeverity;
  readonly file: string;
  /** 1-based line; 0 when the problem is about the whole file (it cannot be read). */
  readonly line: number;
  readonly column?: number;
  /** Dotted key, e.g. `acme.letsencrypt.renew-before`; empty when no key is concerned. */
  readonly key: string;
  readonly message: string;
}

/** `FILE:LINE: KEY: message`, with `:COLUMN` after the line when known and `warning: ` before a warning. */
export function formatProblem(problem: ConfigProblem): string {
  let where = problem.file;
  if (problem.line > 0) where += `:${problem.line}`;
  if (problem.line > 0 && problem.column !== undefined) where += `:${problem.column}`;
  const key = problem.key === '' ? '' : ` ${problem.key}:`;
  const severity = problem.severity === 'warning' ? ' warning:' : '';
  return `${where}:${key}${severity} ${problem.message}`;
}

/** One line per problem, in file order (line, then column), errors before warnings on the same line. */
export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  return sortProblems(problems).map(formatProblem);
}

export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem) => (p.severity === 'error' ? 0 : 1);
  return [...problems].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      (a.column ?? 0) - (b.column ?? 0) ||
      rank(a) - rank(b),
  );
}

/** A configuration with errors: names the file, line and key of the first error and carries all problems. */
export class ConfigError extends TlswardError {
  readonly file: string;
  readonly line: number;
  readonly key: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const sorted = sortProblems(problems);
    const errors = sorted.filter((p) => p.severity === 'error');
    const first = errors[0] ?? sorted[0];
    if (first === undefined) throw new TypeError('a ConfigError needs at least one problem');
    const more = errors.length > 1 ? `\n${errors.slice(1).map(formatProblem).join('\n')}` : '';
    super('CONFIG', `${formatProblem(first)}${more}`);
    this.file = first.file;
    this.line = first.line;
    this.key = first.key;
    this.problems = sorted;
  }
}
