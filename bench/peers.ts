// The single-certificate series: `tlsward issue` (the built CLI), uacme + ualpn, lego --tls. Each run is
// what a fresh client does for one new name (new account, order, TLS-ALPN-01, finalize, download), in a
// fresh state folder, bounded by a timeout. All three answer on Pebble's tlsPort, one after the other.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  canConnect,
  isPidAlive,
  startProcess,
  waitForPidGone,
  waitForPort,
  waitUntil,
} from '../test/integration/support/processes.js';
import {
  describeFailure,
  onPath,
  runTimed,
  type Stats,
  secs,
  stats,
  type TimedRun,
  tail,
} from './support.js';

export interface BenchTarget {
  directoryUrl: string;
  tlsPort: number;
  caFile: string;
  caPem: string;
  /** A scratch folder owned by the benchmark (removed by the caller). */
  scratch: string;
}

export interface SeriesResult {
  client: string;
  /** Why the series did not run or stopped early (missing binary, failed warm-up, ...). */
  note?: string;
  planned: number;
  warmupMs: number[];
  durationsMs: number[];
  failures: number;
  stats: Stats | undefined;
}

interface Attempt {
  run: TimedRun;
  /** Set when the client exited 0 but left no certificate behind. */
  problem?: string;
}

export const CONTACT = 'bench@example.test';

/** Runs `warmups` unmeasured then `runs` measured attempts; stops after the warm-up fails or two failures. */
export async function series(
  client: string,
  warmups: number,
  runs: number,
  attempt: (index: number) => Promise<Attempt>,
): Promise<SeriesResult> {
  const result: SeriesResult = {
    client,
    planned: runs,
    warmupMs: [],
    durationsMs: [],
    failures: 0,
    stats: undefined,
  };
  for (let i = 0; i < warmups + runs; i++) {
    const warm = i < warmups;
    const label = warm ? `warm-up ${i + 1}` : `run ${i - warmups + 1}/${runs}`;
    const { run, problem } = await attempt(i);
    if (run.ok && !problem) {
      (warm ? result.warmupMs : result.durationsMs).push(run.ms);
      console.log(`  ${client.padEnd(16)} ${label.padEnd(10)} ${secs(run.ms)}`);
      continue;
    }
    result.failures++;
    const why = problem ?? describeFailure(run);
    console.log(`  ${client.padEnd(16)} ${label.padEnd(10)} FAILED: ${why}`);
    if (run.stderr.trim()) console.log(`    stderr (tail):\n${tail(run.stderr)}`);
    if (run.stdout.trim()) console.log(`    stdout (tail):\n${tail(run.stdout, 5)}`);
    if (warm || result.failures >= 2) {
      result.note = `stopped after ${warm ? 'a failed warm-up' : 'two failures'}: ${why}`;
      break;
    }
  }
  result.stats = stats(result.durationsMs);
  return result;
}

export function skipped(client: string, planned: number, note: string): SeriesResult {
  console.log(`  ${client}: SKIPPED: ${note}`);
  return { client, note, planned, warmupMs: [], durationsMs: [], failures: 0, stats: undefined };
}

/** Waits until nothing accepts connections on the port any more (the next client needs to bind it). */
async function waitPortFree(port: number): Promise<void> {
  await waitUntil(`port ${port} to be free`, async () => !(await canConnect(port)), { timeoutMs: 10_000 });
}

// ---------------------------------------------------------------------------------------------- tlsward

export interface TlswardResult extends SeriesResult {
  /** Median of `node -e 0`: Node's own start-up and exit. */
  nodeStartupMs?: number;
  /** Median of `node bin/tlsward.js --version`: start-up with the CLI's modules loaded. */
  cliStartupMs?: number;
  /** Median time between the JSON result appearing on stdout and the process having exited. */
  exitAfterResultMs?: number;
}

/** Median wall time of a trivial command, run `n` times (undefined if it fails). */
async function medianOf(command: string, args: readonly string[], n: number): Promise<number | undefined> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const run = await runTimed(command, args, { timeoutMs: 10_000 });
    if (!run.ok) return undefined;
    times.push(run.ms);
  }
  return stats(times)?.median;
}

export async function benchTlswardCli(
  target: BenchTarget,
  bin: string,
  warmups: number,
  runs: number,
): Promise<TlswardResult> {
  const client = 'tlsward issue';
  if (!existsSync(bin) || !existsSync(join(bin, '..', '..', 'dist', 'cli', 'main.js'))) {
    return skipped(client, runs, `${bin} or dist/ missing (run npm run build)`);
  }
  const exitLags: number[] = [];
  const result: TlswardResult = await series(client, warmups, runs, async (i) => {
    const name = `tlsward-${i}.bench.example.test`;
    const cache = join(target.scratch, `tlsward-cache-${i}`);
    const run = await runTimed(
      process.execPath,
      [
        bin,
        'issue',
        '--directory',
        target.directoryUrl,
        '--ca-file',
        target.caFile,
        '--contact',
        CONTACT,
        '--cache',
        cache,
        '--port',
        String(target.tlsPort),
        '--listen',
        '127.0.0.1',
        '--domain',
        name,
        '--json',
      ],
      { timeoutMs: 60_000 },
    );
    if (!run.ok) return { run };
    try {
      const printed = JSON.parse(run.stdout) as { names?: string[]; certificate?: string };
      if (!printed.names?.includes(name))
        return { run, problem: `printed names ${JSON.stringify(printed.names)}` };
      if (!printed.certificate || !existsSync(printed.certificate))
        return { run, problem: 'no certificate file written' };
    } catch {
      return { run, problem: 'stdout is not the JSON result' };
    }
    if (i >= warmups && run.lastStdoutMs !== undefined) exitLags.push(run.ms - run.lastStdoutMs);
    return { run };
  });
  // Fixed costs inside every run above, measured the same way (spawn to exit).
  const nodeStartupMs = await medianOf(process.execPath, ['-e', '0'], 5);
  const cliStartupMs = await medianOf(process.execPath, [bin, '--version'], 5);
  const exitAfterResultMs = stats(exitLags)?.median;
  if (nodeStartupMs !== undefined) result.nodeStartupMs = nodeStartupMs;
  if (cliStartupMs !== undefined) result.cliStartupMs = cliStartupMs;
  if (exitAfterResultMs !== undefined) result.exitAfterResultMs = exitAfterResultMs;
  console.log(
    `  fixed costs: node -e 0 ${secs(nodeStartupMs)}, tlsward --version ${secs(cliStartupMs)}; ` +
      `exit after printing the result ${secs(exitAfterResultMs)} (medians)`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------- uacme

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * One fresh uacme client inside a private mount namespace: uacme (GnuTLS build) ignores SSL_CERT_FILE and
 * trusts only the system bundle, so a copy of that bundle with the test CA appended is bind-mounted over it,
 * visible to this process tree only. The real bundle is never touched.
 * Arguments: BUNDLE CONFDIR DIRECTORY_URL HOOK EMAIL NAME.
 */
const UACME_RUN_SCRIPT = `#!/bin/sh
set -e
mount --bind "$1" ${SYSTEM_BUNDLE}
uacme -y -t EC -c "$2" -a "$3" -h "$4" new "$5"
exec uacme -y -t EC -c "$2" -a "$3" -h "$4" issue "$6"
`;

/** uacme hook: accepts only tls-alpn-01 and forwards it to our ualpn over its control socket. */
function uacmeHook(socket: string): string {
  return `#!/bin/sh
# METHOD TYPE IDENT TOKEN AUTH (see man uacme); answers through ualpn's unix socket ${socket}
[ "$2" = tls-alpn-01 ] || exit 1
case "$1" in
  begin) out=$(printf 'auth %s %s\\n' "$3" "$5" | ualpn -s '${socket}') ;;
  done|failed) out=$(printf 'unauth %s\\n' "$3" | ualpn -s '${socket}') ;;
  *) exit 1 ;;
esac
[ "$out" = OK ]
`;
}

/** Direct children of a live process (Linux /proc), so a worker it forked can be stopped by PID too. */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone, or no /proc
  }
  return pids;
}

export interface UacmeResult extends SeriesResult {
  /** Median cost of the mount-namespace wrapper alone (unshare + mount --bind), included in each run. */
  namespaceOverheadMs?: number;
}

export async function benchUacme(target: BenchTarget, warmups: number, runs: number): Promise<UacmeResult> {
  const client = 'uacme + ualpn';
  const missing = ['uacme', 'ualpn', 'unshare', 'mount'].filter((c) => !onPath(c));
  if (missing.length > 0) return skipped(client, runs, `not installed: ${missing.join(', ')}`);

  const dir = join(target.scratch, 'uacme');
  await mkdir(dir, { recursive: true });
  const bundle = join(dir, 'ca-bundle.crt');
  const system = existsSync(SYSTEM_BUNDLE) ? readFileSync(SYSTEM_BUNDLE, 'utf8') : '';
  await writeFile(bundle, `${system.trimEnd()}\n${target.caPem.trimEnd()}\n`);
  const socket = join(dir, 'ualpn.sock');
  const hook = join(dir, 'hook.sh');
  await writeFile(hook, uacmeHook(socket), { mode: 0o755 });
  const runScript = join(dir, 'run.sh');
  await writeFile(runScript, UACME_RUN_SCRIPT, { mode: 0o755 });
  // As root a private mount namespace is enough; otherwise try a user namespace that maps us to root.
  const unshare = process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'];

  // Is the namespace trick available here at all? Also measures what it adds to every run.
  const probe: number[] = [];
  for (let i = 0; i < 5; i++) {
    const run = await runTimed(
      'unshare',
      [...unshare, 'sh', '-c', `mount --bind "$0" ${SYSTEM_BUNDLE}`, bundle],
      {
        timeoutMs: 10_000,
      },
    );
    if (!run.ok) {
      return skipped(
        client,
        runs,
        `cannot bind-mount a CA bundle in a private mount namespace (${describeFailure(run)}); uacme would not ` +
          `trust Pebble:\n${tail(run.stderr)}`,
      );
    }
    probe.push(run.ms);
  }
  const namespaceOverheadMs = stats(probe)?.median;

  const ualpn = startProcess(
    'ualpn',
    [
      '-b',
      `127.0.0.1@${target.tlsPort}`,
      '-c',
      '127.0.0.1@9',
      '-n',
      '1',
      '-s',
      socket,
      '-p',
      join(dir, 'ualpn.pid'),
      '-v',
    ],
    { name: 'ualpn' },
  );
  try {
    await waitForPort(target.tlsPort, { proc: ualpn, timeoutMs: 10_000 });
    await waitUntil('ualpn control socket', async () => existsSync(socket), {
      proc: ualpn,
      timeoutMs: 10_000,
    });
  } catch (error) {
    await stopUalpn(ualpn.pid, () => ualpn.stop(2_000));
    const message = error instanceof Error ? error.message : String(error);
    return skipped(client, runs, `ualpn did not start: ${message.split('\n')[0]}\n${tail(ualpn.output())}`);
  }
  console.log(`  (ualpn pid ${ualpn.pid} on 127.0.0.1@${target.tlsPort}, control socket ${socket})`);

  try {
    const result: UacmeResult = await series(client, warmups, runs, async (i) => {
      const name = `uacme-${i}.bench.example.test`;
      const conf = join(dir, `conf-${i}`);
      const run = await runTimed(
        'unshare',
        [...unshare, runScript, bundle, conf, target.directoryUrl, hook, CONTACT, name],
        { timeoutMs: 60_000 },
      );
      if (run.ok && !existsSync(join(conf, name, 'cert.pem'))) return { run, problem: 'no cert.pem written' };
      if (!run.ok && ualpn.exitInfo) run.stderr += `\n[ualpn exited]\n${ualpn.output()}`;
      return { run };
    });
    if (namespaceOverheadMs !== undefined) result.namespaceOverheadMs = namespaceOverheadMs;
    return result;
  } finally {
    await stopUalpn(ualpn.pid, () => ualpn.stop(3_000));
    await waitPortFree(target.tlsPort).catch((error: unknown) => {
      console.log(`  WARNING: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
}

/** Stops ualpn's master (via `stop`), then any worker it had forked that outlived it, by PID. */
async function stopUalpn(masterPid: number, stop: () => Promise<unknown>): Promise<void> {
  const workers = childPids(masterPid);
  await stop();
  for (const pid of workers) {
    // Guard against PID reuse: only a process that is still a ualpn we forked is signalled.
    const isOurWorker = () => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ualpn' && isPidAlive(pid);
      } catch {
        return false;
      }
    };
    if (!isOurWorker()) continue;
    process.kill(pid, 'SIGTERM');
    if (await waitForPidGone(pid, 2_000)) continue;
    if (isOurWorker()) process.kill(pid, 'SIGKILL');
    await waitForPidGone(pid, 2_000);
  }
}

// ---------------------------------------------------------------------------------------------- lego

export async function benchLego(target: BenchTarget, warmups: number, runs: number): Promise<SeriesResult> {
  const client = 'lego --tls';
  if (!onPath('lego')) return skipped(client, runs, 'lego is not installed');
  await waitPortFree(target.tlsPort).catch(() => {});
  return series(client, warmups, runs, async (i) => {
    const name = `lego-${i}.bench.example.test`;
    const path = join(target.scratch, `lego-${i}`);
    const run = await runTimed(
      'lego',
      [
        '--server',
        target.directoryUrl,
        '--accept-tos',
        '--email',
        CONTACT,
        '--path',
        path,
        '--key-type',
        'ec256',
        '--domains',
        name,
        '--tls',
        '--tls.port',
        `127.0.0.1:${target.tlsPort}`,
        'run',
      ],
      { timeoutMs: 120_000, env: { LEGO_CA_CERTIFICATES: target.caFile } },
    );
    if (run.ok && !existsSync(join(path, 'certificates', `${name}.crt`)))
      return { run, problem: 'no certificate file written' };
    return { run };
  });
}
