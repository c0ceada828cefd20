// Reload hooks: commands (argv, no shell) run after a new certificate is installed, with environment
// variables naming it, so `systemctl reload postfix` and friends pick it up. A failing or hanging hook
// is reported and killed, never allowed to block serving or renewal.
import { spawn } from 'node:child_process';

export interface HookRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The end of what the command printed (stdout and stderr), for the log. */
  readonly output: string;
}

const MAX_OUTPUT = 4096;

export function runHook(
  argv: readonly string[],
  environment: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HookRun> {
  const [command, ...args] = argv;
  if (!command) return Promise.reject(new TypeError('a hook needs a command'));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) => reject(new Error(`hook ${command} could not run: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ code, signal, output });
      else
        reject(
          new Error(
            `hook ${argv.join(' ')} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: ${output.trim().slice(-500)}`,
          ),
        );
    });
  });
}
