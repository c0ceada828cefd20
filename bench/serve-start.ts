// Server drivers of the serving benchmark (bench/serve-driver.ts): spawn one, time it from the spawn to
// its first served handshake per probe name and to start() done (bounded), sample its idle CPU, ask it for
// its memory figures after a GC.
import { benchName } from './serve-certs.js';
import type { DriverConfig } from './serve-driver.js';
import { cpuSeconds, EventChild, firstHandshake } from './serve-support.js';

const IDLE_SAMPLE_MS = 2_000;
const secs = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  VmHWM: number;
  RssAnon: number;
}

export interface Started {
  driver: EventChild;
  config: DriverConfig;
  ok: boolean;
  /** Why start-up did not finish (EMFILE, time limit, crash). */
  failure: string | undefined;
  timedOut: boolean;
  /** Milliseconds after spawn. */
  listeningMs: number | undefined;
  startedMs: number | undefined;
  firstNameMs: number | undefined;
  lastNameMs: number | undefined;
  installedAtCutoff: number | undefined;
  idleCpuShare: number | undefined;
}

function driverArgs(config: DriverConfig, profileDir?: string): string[] {
  return [
    '--expose-gc',
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    '--import',
    'tsx',
    'bench/serve-driver.ts',
    JSON.stringify(config),
  ];
}

/**
 * Spawns a driver and times it: first served handshake for each probe name (tried every 20 ms from the
 * spawn on), start() done (bounded by `limitMs`); then samples its idle CPU.
 */
export async function startDriver(
  cwd: string,
  config: DriverConfig,
  probeNames: readonly string[],
  options: { profileDir?: string; limitMs: number },
): Promise<Started> {
  const { limitMs } = options;
  const driver = new EventChild(process.execPath, driverArgs(config, options.profileDir), 'SERVE', cwd);
  const spawnedAt = driver.spawnedAt;
  const gone = () => driver.exit !== undefined || driver.last('failed') !== undefined;
  const probes = probeNames.map((name) => firstHandshake(config.port, name, spawnedAt + limitMs, gone));
  const outcome = await driver.waitFor(['started', 'failed'], limitMs);
  const ok = outcome?.event === 'started';
  const started: Started = {
    driver,
    config,
    ok,
    failure: undefined,
    timedOut: !ok && outcome === undefined && driver.exit === undefined,
    listeningMs: driver.last('listening') && driver.last('listening')!.receivedAt - spawnedAt,
    startedMs: ok ? outcome.receivedAt - spawnedAt : undefined,
    firstNameMs: undefined,
    lastNameMs: undefined,
    installedAtCutoff: undefined,
    idleCpuShare: undefined,
  };
  if (!ok) {
    started.failure =
      outcome?.event === 'failed'
        ? String(outcome.error).split('\n')[0]
        : driver.exit
          ? `exited (${driver.exit.code ?? driver.exit.signal}): ${driver.output.trim().split('\n').slice(-3).join(' | ')}`
          : `start() not finished within ${limitMs / 1000} s`;
    started.installedAtCutoff = driver.last('progress')?.installed as number | undefined;
  }
  const times = await Promise.all(probes);
  [started.firstNameMs, started.lastNameMs] = times.map((at) =>
    at === undefined ? undefined : at - spawnedAt,
  );
  if (ok) {
    const before = cpuSeconds(driver.pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
    const after = cpuSeconds(driver.pid);
    if (before !== undefined && after !== undefined)
      started.idleCpuShare = (after - before) / (IDLE_SAMPLE_MS / 1000);
  }
  return started;
}

export async function measureMemory(driver: EventChild): Promise<Memory | undefined> {
  const from = driver.events.length;
  driver.send('measure');
  return (await driver.waitFor(['memory'], 60_000, from)) as unknown as Memory | undefined;
}

export function describeStart(label: string, st: Started, limitMs: number): void {
  const overall = st.ok ? `start() done after ${secs(st.startedMs)}` : `NOT STARTED: ${st.failure}`;
  const probes =
    st.config.count && st.config.count > 1
      ? `first handshake ${benchName(0)} ${secs(st.firstNameMs)}, ${benchName(st.config.count - 1)} ${secs(st.lastNameMs)}`
      : `first handshake ${secs(st.firstNameMs)}`;
  const idle =
    st.idleCpuShare === undefined ? '' : `; idle CPU ${(st.idleCpuShare * 100).toFixed(1)} % of a core`;
  console.log(`  ${label}: listening after ${secs(st.listeningMs)}; ${probes}; ${overall}${idle}`);
  if (st.timedOut && st.installedAtCutoff && st.config.count) {
    const each = limitMs / st.installedAtCutoff;
    console.log(
      `    installed ${st.installedAtCutoff} of ${st.config.count} by then: ~${(each * 1000).toFixed(0)} us each, ` +
        `projected start-up ${secs(each * st.config.count)}`,
    );
  }
}
