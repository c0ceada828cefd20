// The daemon configuration's public surface: load and check a TOML file in Stalwart's shape, the typed
// model it produces, and the problem / error types.
export {
  CHECK_EXIT_ERRORS,
  CHECK_EXIT_OK,
  type CheckResult,
  checkConfigFile,
  loadConfigOrThrow,
} from './check.js';
export { formatDuration, parseDuration } from './durations.js';
export {
  ConfigError,
  type ConfigProblem,
  formatProblem,
  formatProblems,
  type ProblemSeverity,
} from './errors.js';
export { type LoadOptions, type LoadResult, loadConfig, parseConfig } from './load.js';
export * from './model.js';
