// Long-running child processes for integration tests: spawn with captured output (last N KB kept in memory),
// wait until ready (TCP port, HTTP(S) URL, regex in output), stop by PID (SIGTERM, then SIGKILL after a
// grace period), and a per-process registry that SIGKILLs every child still running when this process exits,
// so a failing test never leaves peers behind; children also get PR_SET_PDEATHSIG=SIGKILL (via setpriv) so
// they die even if this process is SIGKILLed. Never kills anything by name: only PIDs started here.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from './http.js';

export interface StartOptions {
  /** Short label used in error messages (default: the command's base name). */
  name?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** How much of stdout+stderr to keep in memory, in characters (default 64 Ki); older output is dropped. */
  maxOutputBytes?: number;
  /**
   * Have the kernel SIGKILL the child when this process dies, even by SIGKILL (PR_SET_PDEATHSIG through
   * util-linux `setpriv`, which then execs the command: same PID). Default true where setpriv exists.
   */
  dieWithParent?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process started by {@link startProcess}; always tracked by the exit-time registry until it exits. */
export class ManagedProcess {
  readonly pid: number;
  readonly name: string;
  readonly #exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;
  #chunks: string[] = [];
  #size = 0;
  readonly #max: number;
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly child: ChildProcess,
    name: string,
    maxOutputBytes: number,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed (no pid)`);
    this.pid = child.pid;
    this.name = name;
    this.#max = maxOutputBytes;
    const onData = (data: Buffer) => this.#append(data.toString('utf8'));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        registry.delete(this);
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  /**
   * Resolves when the process has exited (and been reaped). The child is unref'd, so awaiting it holds the
   * event loop open with a timer; otherwise node:test would cancel a test that only awaits this.
   */
  get exited(): Promise<ExitInfo> {
    if (this.#exit) return this.#exited;
    const keepAlive = setInterval(() => {}, 1_000);
    return this.#exited.finally(() => clearInterval(keepAlive));
  }

  /** Exit status once the process has exited (and been reaped), else undefined. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  /** The retained tail of stdout and stderr, interleaved as received. */
  output(): string {
    return this.#chunks.join('');
  }

  /** Resolves with the match once `pattern` appears in the output; rejects on timeout or early exit. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return this.#waitFor(
      () => this.output().match(pattern) ?? undefined,
      `output matching ${pattern}`,
      timeoutMs,
    );
  }

  /** Error describing a failed start-up, with the tail of the output. */
  failure(what: string): Error {
    const status = this.#exit ? ` (exited: code ${this.#exit.code}, signal ${this.#exit.signal})` : '';
    const tail = this.output().slice(-8192);
    return new Error(`${this.name} [pid ${this.pid}]: ${what}${status}\n--- output (tail) ---\n${tail}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  async stop(graceMs = 5_000): Promise<ExitInfo> {
    if (this.#exit) return this.#exit;
    signalPid(this.pid, 'SIGTERM');
    // The child is unref'd: this timer is what keeps the event loop alive until the child is reaped.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    try {
      if ((await Promise.race([this.#exited, timedOut])) === 'timeout') {
        signalPid(this.pid, 'SIGKILL');
      }
    } finally {
      clearTimeout(timer);
    }
    return this.exited;
  }

  #append(text: string): void {
    this.#chunks.push(text);
    this.#size += text.length;
    while (this.#size > this.#max && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()!.length;
    }
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  #waitFor<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        fn();
      };
      const listener = () => {
        const value = check();
        if (value !== undefined) finish(() => resolve(value));
        else if (this.#exit) finish(() => reject(this.failure(`exited before ${what}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(this.failure(`no ${what} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      this.#listeners.add(listener);
      listener();
    });
  }
}

const SETPRIV = '/usr/bin/setpriv';
const registry = new Set<ManagedProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone (ESRCH)
  }
}

/** SIGKILLs every tracked child synchronously (used at exit; safe to call any time). */
export function killAllTracked(): void {
  for (const proc of registry) signalPid(proc.pid, 'SIGKILL');
}

/** Removes `dir` (recursively) when this process exits; {@link forgetTempDir} after removing it yourself. */
export function removeAtExit(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

/** Removes `dir` now and drops it from the exit-time list. */
export function forgetTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** PIDs of the children this process started that have not exited yet. */
export function trackedPids(): number[] {
  return [...registry].map((p) => p.pid);
}

function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Children are unref'd, so a test file ends when its tests do; then stop what is left properly (SIGTERM,
  // wait, reap) so no zombie outlives us. 'beforeExit' fires again once these stops have settled.
  process.on('beforeExit', () => {
    if (registry.size > 0) void Promise.allSettled([...registry].map((p) => p.stop()));
  });
  // 'exit' also runs after an uncaught exception or process.exit(); only synchronous work is possible here,
  // so SIGKILL without reaping (the orphan is reaped later by PID 1).
  process.on('exit', () => {
    killAllTracked();
    removeTempDirs();
  });
  // A signal with no other listener would end Node without running 'exit' handlers: stop the children
  // (and reap them: no zombies), remove temp folders, then re-raise so we die of the same signal. With
  // another listener (e.g. a daemon under test handling SIGTERM/SIGHUP itself) do nothing: that listener
  // owns the signal, and 'exit' still cleans up if it ends the process.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(sig) > 1) return;
      process.removeListener(sig, onSignal);
      // A second signal while the children stop: SIGKILL them and die at once.
      const impatient = () => {
        killAllTracked();
        removeTempDirs();
        process.kill(process.pid, sig);
      };
      process.once(sig, impatient);
      void Promise.allSettled([...registry].map((p) => p.stop(2_000))).then(() => {
        removeTempDirs(); // dying of a signal skips 'exit' handlers
        process.removeListener(sig, impatient);
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    };
    process.on(sig, onSignal);
  }
}

/** Spawns `command` (no shell) with piped output; the child is registered for kill-at-exit. */
export function startProcess(
  command: string,
  args: readonly string[],
  options: StartOptions = {},
): ManagedProcess {
  installHooks();
  const name = options.name ?? command.split('/').pop() ?? command;
  const wrap = (options.dieWithParent ?? true) && existsSync(SETPRIV);
  const argv = wrap ? ['--pdeathsig', 'SIGKILL', '--', command, ...args] : args;
  const child = spawn(wrap ? SETPRIV : command, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A missing binary surfaces as an 'error' event and no pid.
  if (child.pid === undefined) {
    throw new Error(`${name}: could not spawn ${command} (is it installed and on PATH?)`);
  }
  child.on('error', () => {});
  // Do not keep the event loop alive for a peer: 'beforeExit' stops leftovers (see installHooks).
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void })?.unref?.();
  const proc = new ManagedProcess(child, name, options.maxOutputBytes ?? 64 * 1024);
  registry.add(proc);
  return proc;
}

/** A port on 127.0.0.1 that was free a moment ago (listen on 0, read, close). Racy by nature. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('freePort: no address'));
      });
    });
  });
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `probe` until it returns true; fails with the process output if it exits first or time runs out. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  const { timeoutMs = 15_000, intervalMs = 50, proc } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (proc?.exitInfo) throw proc.failure(`exited before ${what}`);
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const message = `no ${what} within ${timeoutMs} ms${why}`;
      throw proc ? proc.failure(message) : new Error(message);
    }
    await sleep(intervalMs);
  }
}

/** Waits until host:port accepts TCP connections. */
export function waitForPort(
  port: number,
  options: { host?: string; timeoutMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  return waitUntil(`TCP listener on ${host}:${port}`, () => canConnect(port, host), options);
}

/** Waits until `url` answers (any status below 500) over HTTP or HTTPS (trusting `ca` if given). */
export function waitForHttp(
  url: string,
  options: { ca?: string; timeoutMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  return waitUntil(
    `HTTP answer from ${url}`,
    async () => (await httpGet(url, { ca: options.ca, timeoutMs: 2_000 })).status < 500,
    options,
  );
}

/**
 * True while `pid` names a live process. A zombie (exited, not yet reaped, e.g. reparented to an init that
 * does not reap) counts as gone: `kill(pid, 0)` alone would still succeed on it.
 */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (or a zombie); returns false on timeout. */
export async function waitForPidGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}
