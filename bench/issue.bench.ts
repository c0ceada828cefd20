// `npm run bench`: how fast tlsward gets a certificate from a local Pebble (TLS-ALPN-01, Pebble's default
// 5 % badNonce rejection on), next to uacme + ualpn and lego doing the same job, then a 200-name batch
// through the library. One Pebble for the whole run; every child bounded by a timeout; everything started
// here stopped by PID at the end. Human-readable lines, then one `BENCH {...}` JSON line.
// Knobs (environment): BENCH_RUNS (7), BENCH_LEGO_RUNS (3), BENCH_BULK (200), BENCH_CONCURRENCY (20).
import { mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningPebble, startPebble } from '../test/integration/support/pebble.js';
import { forgetTempDir, removeAtExit } from '../test/integration/support/processes.js';
import { type BulkResult, benchBulk } from './bulk.js';
import {
  type BenchTarget,
  benchLego,
  benchTlswardCli,
  benchUacme,
  type SeriesResult,
  type TlswardResult,
  type UacmeResult,
} from './peers.js';
import { errorText, killLiveChildren, phase, round, secs, versionOf } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'tlsward.js');

function intFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}
const RUNS = intFromEnv('BENCH_RUNS', 7);
const LEGO_RUNS = intFromEnv('BENCH_LEGO_RUNS', 3);
const BULK = intFromEnv('BENCH_BULK', 200);
const CONCURRENCY = intFromEnv('BENCH_CONCURRENCY', 20);
const WATCHDOG_MS = 25 * 60_000;

// The benchmark must never hang: a last-resort deadline, and interrupts that take every child down.
setTimeout(() => {
  console.error(`bench: watchdog: still running after ${WATCHDOG_MS / 60_000} min, giving up`);
  killLiveChildren();
  process.exit(3);
}, WATCHDOG_MS).unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping`);
    killLiveChildren();
    process.exit(130); // the harness's exit hook SIGKILLs Pebble and challtestsrv and removes temp folders
  });
}

function seriesJson(result: SeriesResult | undefined) {
  if (!result) return { ok: false, note: 'phase crashed' };
  return {
    ok: result.stats !== undefined && result.failures === 0,
    runs: result.durationsMs.length,
    planned: result.planned,
    failures: result.failures,
    medianSeconds: round(result.stats && result.stats.median / 1000),
    minSeconds: round(result.stats && result.stats.min / 1000),
    maxSeconds: round(result.stats && result.stats.max / 1000),
    meanSeconds: round(result.stats && result.stats.mean / 1000),
    warmupSeconds: result.warmupMs.map((ms) => round(ms / 1000)),
    ...(result.note ? { note: result.note.split('\n')[0] } : {}),
  };
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function printTable(results: (SeriesResult | undefined)[]): void {
  console.log('\n== Single certificate, one name, TLS-ALPN-01, fresh client state per run (wall time)');
  console.log(
    `  ${'client'.padEnd(16)} ${'runs'.padStart(5)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}`,
  );
  for (const r of results) {
    if (!r) continue;
    const s = r.stats;
    const runs = `${r.durationsMs.length}/${r.planned}`;
    console.log(
      `  ${r.client.padEnd(16)} ${runs.padStart(5)} ${secs(s?.median).padStart(9)} ${secs(s?.min).padStart(9)} ${secs(s?.max).padStart(9)}` +
        (r.note ? `   (${r.note.split('\n')[0]})` : ''),
    );
  }
}

async function main(): Promise<number> {
  const scratch = mkdtempSync(join(tmpdir(), 'tlsward-bench-'));
  removeAtExit(scratch);
  console.log('tlsward issuance benchmark');
  console.log(
    `  machine: ${availableParallelism()} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; ` +
      `peers: ${(await versionOf('uacme', ['-V'])) ?? 'uacme missing'}; ${(await versionOf('lego', ['--version'])) ?? 'lego missing'}`,
  );
  console.log(
    `  runs: ${RUNS} (+1 warm-up) for tlsward and uacme, ${LEGO_RUNS} (+1) for lego; bulk ${BULK} names, concurrency ${CONCURRENCY}`,
  );

  let pebble: RunningPebble | undefined;
  let tlsward: TlswardResult | undefined;
  let uacme: UacmeResult | undefined;
  let lego: SeriesResult | undefined;
  let bulk: BulkResult | undefined;
  try {
    pebble = await startPebble();
    console.log(
      `  Pebble ${pebble.directoryUrl} (pid ${pebble.process.pid}), validation tlsPort ${pebble.tlsPort}, ` +
        'PEBBLE_VA_NOSLEEP=1, badNonce rejection at Pebble default (5 %)',
    );
    const target: BenchTarget = {
      directoryUrl: pebble.directoryUrl,
      tlsPort: pebble.tlsPort,
      caFile: pebble.caFile,
      caPem: pebble.caPem,
      scratch,
    };
    const running = pebble;

    tlsward = await phase('tlsward issue (spawned CLI: node bin/tlsward.js issue --json)', () =>
      benchTlswardCli(target, bin, 1, RUNS),
    );
    uacme = await phase(
      'uacme + ualpn (uacme new + issue in a private mount namespace; ualpn already running)',
      () => benchUacme(target, 1, RUNS),
    );
    lego = await phase('lego --tls (built-in TLS-ALPN-01 server)', () => benchLego(target, 1, LEGO_RUNS));
    bulk = await phase(`Bulk: ${BULK} names through the library, concurrency ${CONCURRENCY}`, () =>
      benchBulk(target, {
        count: BULK,
        concurrency: CONCURRENCY,
        perIssueTimeoutMs: 60_000,
        totalTimeoutMs: 10 * 60_000,
        pebblePid: running.process.pid,
        ...(running.challtestsrv ? { dnsPid: running.challtestsrv.process.pid } : {}),
      }),
    );
  } catch (error) {
    console.log(`\nbench: FAILED: ${errorText(error)}`);
  } finally {
    killLiveChildren();
    await pebble
      ?.stop()
      .catch((error: unknown) => console.log(`bench: stopping Pebble: ${errorText(error)}`));
    await pebble?.challtestsrv?.stop().catch(() => {});
    forgetTempDir(scratch);
  }

  // ------------------------------------------------------------------------------------------ report
  printTable([tlsward, uacme, lego]);
  const t = tlsward?.stats?.median;
  const uRaw = uacme?.stats?.median;
  const overhead = uacme?.namespaceOverheadMs;
  const uNet = uRaw !== undefined ? uRaw - (overhead ?? 0) : undefined;
  const l = lego?.stats?.median;
  const vsUacme = ratio(t, uNet);
  const vsUacmeRaw = ratio(t, uRaw);
  const vsLego = ratio(t, l);
  console.log('\n== Ratios (median wall time; lower is better for tlsward)');
  if (overhead !== undefined) {
    console.log(
      `  (each uacme run includes the unshare + mount --bind wrapper, ${secs(overhead)} median alone; ` +
        'it is subtracted below, which only makes uacme look faster)',
    );
  }
  const target =
    vsUacme === undefined ? '' : vsUacme <= 0.5 ? '  -> target <= 0.50: MET' : '  -> target <= 0.50: NOT MET';
  console.log(`  tlsward / uacme = ${vsUacme === undefined ? 'n/a' : vsUacme.toFixed(2)}${target}`);
  if (vsUacmeRaw !== undefined && overhead !== undefined)
    console.log(`  tlsward / uacme (wrapper included) = ${vsUacmeRaw.toFixed(2)}`);
  console.log(`  tlsward / lego  = ${vsLego === undefined ? 'n/a' : vsLego.toFixed(2)}`);

  if (bulk) {
    const wall = bulk.totalMs / 1000;
    console.log(`\n== Bulk (library, one account, one FileStorage, one shared listener)`);
    console.log(
      `  issued ${bulk.issued}/${bulk.count} (failures: ${bulk.failures}) in ${wall.toFixed(2)} s = ${bulk.certsPerSecond.toFixed(1)} certificates/s`,
    );
    for (const e of bulk.errors) console.log(`    error: ${e}`);
    console.log(
      `  per-issuance latency: median ${secs(bulk.latencyMs.median)}, p95 ${secs(bulk.latencyMs.p95)}, max ${secs(bulk.latencyMs.max)}`,
    );
    console.log(
      `  ACME HTTP requests: ${bulk.httpRequests} (${(bulk.httpRequests / Math.max(1, bulk.issued)).toFixed(1)} per certificate, ` +
        `${(bulk.httpRequests / wall).toFixed(0)}/s), statuses ${JSON.stringify(bulk.httpStatus)}; challenges answered: ${bulk.challengesAnswered}`,
    );
    const share = (cpu: number | undefined) =>
      cpu === undefined ? 'n/a' : `${cpu.toFixed(2)} CPU s = ${(cpu / wall).toFixed(2)} of one core`;
    console.log(`  CPU during the batch (wall ${wall.toFixed(2)} s, ${bulk.cores} core(s)):`);
    console.log(
      `    tlsward (this node process): ${share(bulk.nodeCpuSeconds)}; event loop busy ${(bulk.eventLoopUtilization * 100).toFixed(0)} %`,
    );
    console.log(`    Pebble:                      ${share(bulk.pebbleCpuSeconds)}`);
    console.log(`    challtestsrv (DNS):          ${share(bulk.dnsCpuSeconds)}`);
    const totalCpu = bulk.nodeCpuSeconds + (bulk.pebbleCpuSeconds ?? 0) + (bulk.dnsCpuSeconds ?? 0);
    const machine = totalCpu / (wall * bulk.cores);
    console.log(
      `    per certificate: tlsward ${((bulk.nodeCpuSeconds / Math.max(1, bulk.issued)) * 1000).toFixed(1)} ms CPU, ` +
        `Pebble ${bulk.pebbleCpuSeconds === undefined ? 'n/a' : `${((bulk.pebbleCpuSeconds / Math.max(1, bulk.issued)) * 1000).toFixed(1)} ms CPU`}; ` +
        `machine CPU use ${(machine * 100).toFixed(0)} % of ${bulk.cores} core(s)`,
    );
    console.log(`  -> ${bottleneck(bulk, machine)}`);
  }

  const summary = {
    pebble: { nonceRejectPercent: 5, vaNoSleep: true },
    cores: availableParallelism(),
    node: process.version,
    tlsward: {
      ...seriesJson(tlsward),
      nodeStartupSeconds: round(tlsward?.nodeStartupMs && tlsward.nodeStartupMs / 1000),
      cliStartupSeconds: round(tlsward?.cliStartupMs && tlsward.cliStartupMs / 1000),
      exitAfterResultSeconds: round(tlsward?.exitAfterResultMs && tlsward.exitAfterResultMs / 1000),
    },
    uacme: {
      ...seriesJson(uacme),
      namespaceWrapperSeconds: round(overhead !== undefined ? overhead / 1000 : undefined),
    },
    lego: seriesJson(lego),
    ratios: {
      tlswardOverUacme: round(vsUacme),
      tlswardOverUacmeWrapperIncluded: round(vsUacmeRaw),
      tlswardOverLego: round(vsLego),
      uacmeTargetMet: vsUacme === undefined ? null : vsUacme <= 0.5,
    },
    bulk: bulk
      ? {
          names: bulk.count,
          concurrency: bulk.concurrency,
          issued: bulk.issued,
          failures: bulk.failures,
          totalSeconds: round(bulk.totalMs / 1000),
          certsPerSecond: round(bulk.certsPerSecond, 2),
          latencyMedianSeconds: round(bulk.latencyMs.median && bulk.latencyMs.median / 1000),
          latencyP95Seconds: round(bulk.latencyMs.p95 && bulk.latencyMs.p95 / 1000),
          httpRequests: bulk.httpRequests,
          httpStatus: bulk.httpStatus,
          nodeCpuSeconds: round(bulk.nodeCpuSeconds),
          nodeCpuShare: round(bulk.nodeCpuSeconds / (bulk.totalMs / 1000)),
          eventLoopUtilization: round(bulk.eventLoopUtilization),
          pebbleCpuSeconds: round(bulk.pebbleCpuSeconds),
          pebbleCpuShare: round(bulk.pebbleCpuSeconds && bulk.pebbleCpuSeconds / (bulk.totalMs / 1000)),
          dnsCpuSeconds: round(bulk.dnsCpuSeconds),
        }
      : { ok: false, note: 'phase crashed' },
  };
  console.log(`\nBENCH ${JSON.stringify(summary)}`);

  // Peers failing is reported, not fatal; tlsward failing is.
  const tlswardOk = tlsward?.stats !== undefined && tlsward.failures === 0;
  const bulkOk = bulk !== undefined && bulk.failures === 0;
  return tlswardOk && bulkOk ? 0 : 1;
}

/** One line on what limited the batch, from the CPU figures. */
function bottleneck(bulk: BulkResult, machineShare: number): string {
  const wall = bulk.totalMs / 1000;
  const node = bulk.nodeCpuSeconds / wall;
  const pebble = bulk.pebbleCpuSeconds === undefined ? undefined : bulk.pebbleCpuSeconds / wall;
  const pebbleCores = pebble === undefined ? 'n/a' : pebble.toFixed(2);
  const elu = `${(bulk.eventLoopUtilization * 100).toFixed(0)} %`;
  if (bulk.eventLoopUtilization > 0.8 || node > 0.9) {
    return (
      `tlsward's main thread is (nearly) saturated (event loop busy ${elu}, ${node.toFixed(2)} cores) while ` +
      `Pebble uses ${pebbleCores} cores: tlsward's own CPU work is the limit, not Pebble`
    );
  }
  if (machineShare > 0.85) {
    return `the machine's CPUs are saturated (${(machineShare * 100).toFixed(0)} %): the rate is CPU-bound (tlsward ${node.toFixed(2)}, Pebble ${pebbleCores} cores)`;
  }
  if (pebble !== undefined && pebble > node) {
    return `Pebble burns more CPU than tlsward (${pebbleCores} vs ${node.toFixed(2)} cores) and tlsward's event loop has headroom (${elu}): Pebble sets the pace`;
  }
  return `neither process saturates a core (tlsward ${node.toFixed(2)}, Pebble ${pebbleCores}; event loop ${elu}): round trips set the pace`;
}

process.exitCode = await main();
