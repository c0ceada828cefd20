// `tlsward check --config FILE`: every problem of the configuration, exit 2 when there are errors.
import { checkConfigFile } from '../daemon/config/index.js';
import type { Terminal } from './terminal.js';

export async function runCheck(options: { config: string }, terminal: Terminal): Promise<number> {
  const result = await checkConfigFile(options.config);
  const lines = result.lines;
  const summary = lines.at(-1) ?? '';
  for (const line of lines.slice(0, -1)) terminal.err(`${line}\n`);
  (result.exitCode === 0 ? terminal.out : terminal.err)(`${summary}\n`);
  return result.exitCode;
}
