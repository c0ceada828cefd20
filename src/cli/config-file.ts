// Loading the configuration for a CLI command: every problem printed with file:line and key; errors
// end the command with exit 2 (through UsageError), warnings are shown and the command goes on.
import { formatProblems, loadConfig } from '../daemon/config/index.js';
import type { DaemonConfig } from '../daemon/config/model.js';
import { UsageError } from './exit-codes.js';
import type { Terminal } from './terminal.js';

export async function loadConfigForCommand(path: string, terminal: Terminal): Promise<DaemonConfig> {
  const result = await loadConfig(path);
  const lines = formatProblems(result.problems);
  if (!result.config) {
    throw new UsageError(`${path} has errors:\n${lines.join('\n')}`);
  }
  for (const line of lines) terminal.err(`${line}\n`);
  return result.config;
}
