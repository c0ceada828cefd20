// A DNS provider that runs a user's program, as lego's `exec` provider and acme.sh's hooks do: argv
// `command... present <fqdn.> <value>` to add a TXT value and `command... cleanup <fqdn.> <value>` to
// remove it, with the name fully qualified (trailing dot). No shell is involved, so nothing in the name
// or value is ever interpreted. The same facts are in TLSWARD_DNS_ACTION / _NAME / _VALUE for scripts
// that prefer the environment. Each run is bounded in time; a failure reports the exit status and the
// tail of the program's output, with the values of the configured environment variables masked.
import { spawn } from 'node:child_process';
import { TlswardError } from '../../errors.js';
import type { DnsProvider, TxtRecord } from './provider.js';

export interface ExecProviderOptions {
  /** The program and its leading arguments, run without a shell, e.g. `['/usr/local/bin/dns-hook']`. */
  readonly command: readonly string[];
  /** Bound of one run; the program (and its process group) is killed after it. Default 60 000 ms. */
  readonly timeoutMs?: number;
  /**
   * Extra environment for the program, e.g. an API key it needs. These values are treated as secrets:
   * they are masked wherever the program's output is quoted in an error.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Pass tlsward's own environment on (PATH, HOME...). Default true. */
  readonly inheritEnv?: boolean;
  /** Working directory of the program; default tlsward's. */
  readonly cwd?: string;
  /** How much of stdout+stderr to keep for error messages, in characters. Default 2048. */
  readonly outputTailChars?: number;
  /** After SIGTERM at the timeout, how long to wait before SIGKILL. Default 2000 ms. */
  readonly killGraceMs?: number;
}

export type ExecAction = 'present' | 'cleanup';

export type ExecFailure =
  /** The program could not be started (not found, not executable). */
  | 'spawn'
  /** It exited with a status other than 0, or was killed by a signal it did not get from us. */
  | 'exit'
  /** It ran longer than `timeoutMs` and was killed. */
  | 'timeout';

/** The hook program failed; says which program, which action on which record, and how. */
export class ExecProviderError extends TlswardError {
  readonly failure: ExecFailure;
  readonly action: ExecAction;
  /** The record involved, e.g. `TXT _acme-challenge.example.org`. */
  readonly record: string;
  /** The program (argv[0]) that was run; its other arguments are not repeated (they may be secret). */
  readonly program: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last characters of stdout+stderr, with configured environment values masked. */
  readonly output: string;

  constructor(
    failure: ExecFailure,
    message: string,
    details: {
      action: ExecAction;
      record: string;
      program: string;
      exitCode?: number | null;
      signal?: NodeJS.Signals | null;
      output?: string;
      cause?: unknown;
    },
  ) {
    super(failure === 'timeout' ? 'TIMEOUT' : 'DNS', message, {
      // A hung hook may well be a passing network problem; a failing one needs a person to look.
      retryable: failure === 'timeout',
      cause: details.cause,
    });
    this.failure = failure;
    this.action = details.action;
    this.record = details.record;
    this.program = details.program;
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.output = details.output ?? '';
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_TAIL_CHARS = 2048;
const DEFAULT_KILL_GRACE_MS = 2_000;
/** Environment values shorter than this are not masked: masking `1` or `on` would garble the output. */
const MIN_MASKED_LENGTH = 4;
/** After the program exits, how long its output pipes may stay open before we stop reading. */
const PIPE_DRAIN_MS = 1_000;

export class ExecProvider implements DnsProvider {
  readonly name: string;
  readonly #command: readonly [string, ...string[]];
  readonly #timeoutMs: number;
  readonly #env: Readonly<Record<string, string>>;
  readonly #inheritEnv: boolean;
  readonly #cwd: string | undefined;
  readonly #tailChars: number;
  readonly #killGraceMs: number;

  constructor(options: ExecProviderOptions) {
    const [program, ...args] = options.command ?? [];
    if (program === undefined || program === '')
      throw new TypeError('exec: command must name a program, e.g. ["/usr/local/bin/dns-hook"]');
    for (const [key, value] of [
      ['timeoutMs', options.timeoutMs],
      ['outputTailChars', options.outputTailChars],
    ] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value > 0))
        throw new TypeError(`exec: ${key} must be a positive number, not ${value}`);
    }
    if (
      options.killGraceMs !== undefined &&
      !(Number.isFinite(options.killGraceMs) && options.killGraceMs >= 0)
    )
      throw new TypeError(`exec: killGraceMs must be a number >= 0, not ${options.killGraceMs}`);
    for (const key of Object.keys(options.env ?? {})) {
      if (key.startsWith('TLSWARD_DNS_'))
        throw new TypeError(`exec: env ${key} is reserved (tlsward sets TLSWARD_DNS_* for the program)`);
    }
    this.#command = [program, ...args];
    // Only the program: the other arguments may carry credentials.
    this.name = `exec ${program}`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#env = { ...options.env };
    this.#inheritEnv = options.inheritEnv ?? true;
    this.#cwd = options.cwd;
    this.#tailChars = options.outputTailChars ?? DEFAULT_TAIL_CHARS;
    this.#killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  addTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    return this.run('present', record, signal);
  }

  removeTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    return this.run('cleanup', record, signal);
  }

  /** Runs the program once for `action`; resolves on exit status 0. */
  async run(action: ExecAction, record: TxtRecord, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const fqdn = `${record.name.replace(/\.$/, '')}.`;
    const [program, ...leading] = this.#command;
    const recordLabel = `TXT ${fqdn}`;
    const what = `exec hook ${program} ${action} ${fqdn} "${record.value}"`;
    const env: NodeJS.ProcessEnv = {
      ...(this.#inheritEnv ? process.env : {}),
      ...this.#env,
      TLSWARD_DNS_ACTION: action,
      TLSWARD_DNS_NAME: fqdn,
      TLSWARD_DNS_VALUE: record.value,
    };
    const tail = new OutputTail(this.#tailChars);

    const outcome = await runProgram(
      program,
      [...leading, action, fqdn, record.value],
      { env, cwd: this.#cwd, timeoutMs: this.#timeoutMs, killGraceMs: this.#killGraceMs, tail },
      signal,
    );

    const details = { action, record: recordLabel, program };
    if (outcome.kind === 'spawn') {
      const reason =
        outcome.error.code === 'ENOENT'
          ? 'no such program'
          : outcome.error.code === 'EACCES'
            ? 'permission denied (is it executable?)'
            : (outcome.error.code ?? outcome.error.message);
      throw new ExecProviderError('spawn', `${what}: cannot run ${program}: ${reason}`, {
        ...details,
        cause: outcome.error,
      });
    }
    // The caller gave up: the program is stopped and reaped by now, and the caller's reason goes back.
    if (outcome.killedFor === 'abort') throw signal.reason;
    if (outcome.code === 0 && outcome.killedFor === undefined) return;
    const output = tail.text((text) => this.#mask(text));
    const shown =
      output.trim() === ''
        ? 'no output'
        : tail.truncated
          ? `output (last ${this.#tailChars} characters):\n${output}`
          : `output:\n${output}`;
    const status = { ...details, exitCode: outcome.code, signal: outcome.signal, output };
    if (outcome.killedFor === 'timeout')
      throw new ExecProviderError(
        'timeout',
        `${what}: still running after ${this.#timeoutMs} ms, killed; ${shown}`,
        status,
      );
    const how = outcome.code !== null ? `exit status ${outcome.code}` : `killed by ${outcome.signal}`;
    throw new ExecProviderError('exit', `${what} failed: ${how}; ${shown}`, status);
  }

  /** The output with every configured environment value replaced by `[NAME]`, longest values first. */
  #mask(text: string): string {
    const entries = Object.entries(this.#env)
      .filter(([, value]) => value.length >= MIN_MASKED_LENGTH)
      .sort(([, a], [, b]) => b.length - a.length);
    let masked = text;
    for (const [key, value] of entries) masked = masked.split(value).join(`[${key}]`);
    return masked;
  }
}

type RunOutcome =
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; killedFor?: 'timeout' | 'abort' }
  | { kind: 'spawn'; error: NodeJS.ErrnoException };

interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  timeoutMs: number;
  killGraceMs: number;
  tail: OutputTail;
}

/**
 * Runs `program args` without a shell in a process group of its own, collecting its output into `tail`.
 * At the timeout or on abort the group gets SIGTERM, then SIGKILL after the grace period.
 */
function runProgram(
  program: string,
  args: readonly string[],
  options: RunOptions,
  signal: AbortSignal,
): Promise<RunOutcome> {
  return new Promise<RunOutcome>((resolve) => {
    const child = spawn(program, args, {
      env: options.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
      // Its own process group, so that stopping it also stops what a script started (e.g. nsupdate).
      detached: true,
    });
    let exited = false;
    let settled = false;
    let killedFor: 'timeout' | 'abort' | undefined;
    const timers: NodeJS.Timeout[] = [];

    const settle = (outcome: RunOutcome) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const kill = (why: 'timeout' | 'abort') => {
      // After the program's own exit, only what it left behind is still running: its status stands.
      if (!exited && killedFor === undefined) killedFor = why;
      signalGroup(child.pid, 'SIGTERM');
      timers.push(setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.killGraceMs));
    };
    const onAbort = () => kill('abort');

    timers.push(setTimeout(() => kill('timeout'), options.timeoutMs));
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => options.tail.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => options.tail.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      // Without a pid it never started; otherwise 'exit' and 'close' still follow.
      if (child.pid === undefined) settle({ kind: 'spawn', error });
    });
    child.once('exit', (code, exitSignal) => {
      exited = true;
      if (killedFor !== undefined) signalGroup(child.pid, 'SIGKILL');
      // Something it started in the background may hold the pipes open: do not wait for that forever.
      timers.push(
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle({ kind: 'exit', code, signal: exitSignal, ...(killedFor ? { killedFor } : {}) });
        }, PIPE_DRAIN_MS),
      );
    });
    // 'close' comes once the pipes are drained, so the output tail is complete.
    child.once('close', (code, exitSignal) =>
      settle({ kind: 'exit', code, signal: exitSignal, ...(killedFor ? { killedFor } : {}) }),
    );
  });
}

/** Signals a whole process group (the child was started detached, so its pid is the group id). */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Keeps about the last `max` characters of everything pushed. Masking runs on more than is shown, and
 * once output was dropped the first (partial) line is left out, so that a secret cut in two at the
 * edge does not show its second half.
 */
class OutputTail {
  #text = '';
  readonly #max: number;
  #dropped = false;

  constructor(max: number) {
    this.#max = max;
  }

  push(chunk: Buffer): void {
    this.#text += chunk.toString('utf8');
    if (this.#text.length > this.#max * 4) {
      this.#text = this.#text.slice(-this.#max * 2);
      this.#dropped = true;
    }
  }

  /** True when more was written than is shown. */
  get truncated(): boolean {
    return this.#dropped || this.#text.length > this.#max;
  }

  text(mask: (text: string) => string): string {
    let text = mask(this.#text);
    if (this.#dropped) text = text.slice(text.indexOf('\n') + 1);
    if (text.length <= this.#max && !this.#dropped) return text;
    return `...${text.slice(-this.#max)}`;
  }
}
