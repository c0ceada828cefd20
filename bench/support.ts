// Small tools for the issuance benchmark: run a child with a hard timeout (in its own process group, so a
// timeout or an interrupt also ends its grandchildren: uacme's hook, lego's workers), keep the tail of
// its output, time it; summary statistics; CPU time of a PID from /proc. Only PIDs started here are ever
// signalled.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface TimedRun {
  ok: boolean;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** When the last stdout chunk arrived, in milliseconds after spawn (undefined if none). */
  lastStdoutMs: number | undefined;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs: number;
  /** Bytes of stdout and of stderr kept (the end); default 16 KiB each. */
  keepBytes?: number;
}

/** Process groups of children still running, SIGKILLed if the benchmark exits or is interrupted. */
const liveGroups = new Set<number>();

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGKILLs the process group of every child started by {@link runTimed} that has not exited. */
export function killLiveChildren(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
}

process.on('exit', killLiveChildren);

class Tail {
  #text = '';
  constructor(readonly max: number) {}
  add(chunk: Buffer): void {
    this.#text += chunk.toString('utf8');
    if (this.#text.length > this.max * 2) this.#text = this.#text.slice(-this.max);
  }
  get text(): string {
    return this.#text.slice(-this.max);
  }
}

/** Spawns `command` (no shell) in a new process group; SIGKILLs the whole group after `timeoutMs`. */
export function runTimed(command: string, args: readonly string[], options: RunOptions): Promise<TimedRun> {
  const keep = options.keepBytes ?? 16 * 1024;
  const stdout = new Tail(keep);
  const stderr = new Tail(keep);
  return new Promise<TimedRun>((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    let exitedAt: number | undefined;
    let settled = false;
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
    }, options.timeoutMs);
    let lastStdoutMs: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      lastStdoutMs = performance.now() - started;
      stdout.add(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    const finish = (code: number | null, signal: NodeJS.Signals | null, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (pid !== undefined) {
        // Whatever the child left in its group (a hook, a helper) goes with it.
        killGroup(pid, 'SIGKILL');
        liveGroups.delete(pid);
      }
      const ms = (exitedAt ?? performance.now()) - started;
      resolve({
        ok: code === 0 && !timedOut,
        ms,
        code,
        signal,
        timedOut,
        lastStdoutMs,
        stdout: stdout.text,
        stderr: stderr.text + extra,
      });
    };
    child.once('error', (error) => finish(null, null, `\n[spawn error] ${error.message}`));
    child.once('exit', (code, signal) => {
      exitedAt = performance.now();
      // Give the pipes a moment to drain; a grandchild holding them open must not stall the benchmark.
      const drain = setTimeout(() => finish(code, signal), 2_000);
      child.once('close', () => {
        clearTimeout(drain);
        finish(code, signal);
      });
    });
  });
}

/** The last `lines` lines of `text`, indented, for failure reports. */
export function tail(text: string, lines = 15): string {
  const all = text.trimEnd().split('\n');
  return all
    .slice(-lines)
    .map((line) => `      | ${line}`)
    .join('\n');
}

/** Why a run failed, in one line. */
export function describeFailure(run: TimedRun): string {
  if (run.timedOut) return `timed out after ${(run.ms / 1000).toFixed(1)} s (killed)`;
  if (run.signal) return `killed by ${run.signal}`;
  return `exit code ${run.code}`;
}

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
}

export function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { n: sorted.length, median, min: sorted[0]!, max: sorted[sorted.length - 1]!, mean };
}

/** The value at fraction `p` (0..1) of the sorted values, nearest rank. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Rounds to `digits` decimals, for the JSON summary. */
export function round(value: number | undefined, digits = 3): number | null {
  if (value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Seconds with three decimals, e.g. "0.412 s". */
export function secs(ms: number | undefined): string {
  return ms === undefined ? '—' : `${(ms / 1000).toFixed(3)} s`;
}

/** True if `command` is an executable file on PATH. */
export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** First line of a command's output (stdout, else stderr); undefined if it is not on PATH or prints nothing. */
export async function versionOf(command: string, args: readonly string[]): Promise<string | undefined> {
  if (!onPath(command)) return undefined;
  const run = await runTimed(command, args, { timeoutMs: 5_000, keepBytes: 1024 });
  const text = (run.stdout.trim() || run.stderr.trim()).split('\n')[0];
  if (run.timedOut) return `${command}: no answer to ${args.join(' ')} within 5 s`;
  return text || undefined;
}

let clockTicks: number | undefined;

/** User + system CPU seconds a live process has used so far (Linux /proc), or undefined. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clockTicks = 100;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return (utime + stime) / clockTicks;
  } catch {
    return undefined;
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** Runs one phase of a benchmark; a crash is reported (and counted by `onFailure`) and the next phase runs. */
export async function phase<T>(
  title: string,
  body: () => Promise<T>,
  onFailure: () => void = () => {},
): Promise<T | undefined> {
  console.log(`\n== ${title}`);
  try {
    return await body();
  } catch (error) {
    console.log(`  PHASE FAILED: ${errorText(error)}`);
    onFailure();
    return undefined;
  }
}
