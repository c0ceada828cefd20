// `tlsward check --config FILE`: loads the configuration and says what is wrong with it, one line per
// problem (FILE:LINE: KEY: message) and a summary. The exit code follows the CLI's: 0 when the file can be
// run (warnings allowed), 2 (usage/configuration error) when it has errors.
import { ConfigError, formatProblems } from './errors.js';
import { type LoadOptions, type LoadResult, loadConfig } from './load.js';
import type { DaemonConfig } from './model.js';

/** Same values as src/cli/exit-codes.ts (the daemon layer does not import the CLI). */
export const CHECK_EXIT_OK = 0;
export const CHECK_EXIT_ERRORS = 2;

export interface CheckResult {
  readonly exitCode: typeof CHECK_EXIT_OK | typeof CHECK_EXIT_ERRORS;
  /** Lines to print (without newlines): the problems in file order, then a summary. */
  readonly lines: string[];
  readonly result: LoadResult;
}

export async function checkConfigFile(path: string, options: LoadOptions = {}): Promise<CheckResult> {
  const result = await loadConfig(path, options);
  const errors = result.problems.filter((p) => p.severity === 'error').length;
  const warnings = result.problems.length - errors;
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const summary =
    errors > 0
      ? `${path}: ${count(errors, 'error')}${warnings > 0 ? `, ${count(warnings, 'warning')}` : ''}`
      : `${path}: configuration OK${warnings > 0 ? ` (${count(warnings, 'warning')})` : ''}`;
  return {
    exitCode: errors > 0 ? CHECK_EXIT_ERRORS : CHECK_EXIT_OK,
    lines: [...formatProblems(result.problems), summary],
    result,
  };
}

/** For the daemon: the configuration, or a ConfigError naming the first error's file, line and key. */
export async function loadConfigOrThrow(
  path: string,
  options: LoadOptions = {},
): Promise<LoadResult & { config: DaemonConfig }> {
  const result = await loadConfig(path, options);
  if (result.config === undefined) throw new ConfigError(result.problems);
  return { ...result, config: result.config };
}
