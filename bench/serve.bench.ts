// `npm run bench` (second part), or `node --import tsx bench/serve.bench.ts`: the daemon's serving side.
//   1. handshakes/s through the daemon's tcp-proxy listener (src/daemon/listeners.ts) holding N managed
//      certificates, SNI chosen at random, next to a plain tls.Server with one certificate (same client);
//   2. resident memory per idle certificate, 10,000 and 100,000 in the cache (over a 1-certificate base);
//   3. time from process start to the first served handshake.
// The server side runs in processes of its own (bench/serve-driver.ts), the load in another
// (bench/serve-client.ts); the certificates are made once (bench/serve-certs.ts) into a FileStorage cache,
// on tmpfs when /dev/shm has room (reads then cost what a warm page cache costs). The machine may be
// shared, so every rate run records the CPU of everyone else, the servers being compared stay up side by
// side, and their runs alternate (best of BENCH_SERVE_ROUNDS). Everything on 127.0.0.1; every child has a
// deadline and is stopped by PID. Human-readable lines, then one `BENCH_SERVE {...}` JSON line.
// Knobs (environment):
//   BENCH_SERVE_CERTS ("10000,100000")   cache sizes for start-up and memory
//   BENCH_SERVE_LOAD_CERTS (10000)        certificates held during the handshake-rate runs
//   BENCH_SERVE_SECONDS (3), BENCH_SERVE_WARMUP_SECONDS (1), BENCH_SERVE_ROUNDS (2),
//   BENCH_SERVE_CONCURRENCY (16)          the rate runs
//   BENCH_SERVE_STARTUP_LIMIT_SECONDS (45) how long one start-up may take before it is cut off (its
//                                          progress is then extrapolated)
//   BENCH_SERVE_READ_CONCURRENCY (64)     storage-read gate, used only when start-up without one fails
//                                          with EMFILE (0: never)
//   BENCH_SERVE_VALIDITY_DAYS (20), BENCH_SERVE_RENEW_BEFORE_DAYS (1): lifetime of the generated certificates
//   BENCH_SERVE_PROFILE (1)               CPU profile of the largest start-up, summarized
//   BENCH_SERVE_DIR                       where the cache goes (default /dev/shm if it has room, else tmpdir)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchName, generateCache } from './serve-certs.js';
import type { DriverConfig } from './serve-driver.js';
import { best, type Contender, type LoadResult, loadJson, printLoad, runLoad } from './serve-load.js';
import { describeStart, type Memory, measureMemory, type Started, startDriver } from './serve-start.js';
import {
  type EventChild,
  freePort,
  killLiveChildren,
  type ProfileSummary,
  startEchoServer,
  summarizeProfile,
} from './serve-support.js';
import { errorText, phase as runPhase } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DAY_MS = 86_400_000;

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}
const CERTS = (process.env.BENCH_SERVE_CERTS ?? '10000,100000')
  .split(',')
  .map((text) => Number(text.trim()))
  .filter((n) => Number.isInteger(n) && n > 1)
  .sort((a, b) => a - b);
const LOAD_CERTS = Math.max(2, intFromEnv('BENCH_SERVE_LOAD_CERTS', 10_000));
const SECONDS = Math.max(1, intFromEnv('BENCH_SERVE_SECONDS', 3));
const WARMUP_SECONDS = intFromEnv('BENCH_SERVE_WARMUP_SECONDS', 1);
const ROUNDS = Math.max(1, intFromEnv('BENCH_SERVE_ROUNDS', 2));
const CONCURRENCY = Math.max(1, intFromEnv('BENCH_SERVE_CONCURRENCY', 16));
const STARTUP_LIMIT_MS = Math.max(1, intFromEnv('BENCH_SERVE_STARTUP_LIMIT_SECONDS', 45)) * 1000;
const READ_CONCURRENCY = intFromEnv('BENCH_SERVE_READ_CONCURRENCY', 64);
const VALIDITY_DAYS = Math.max(3, intFromEnv('BENCH_SERVE_VALIDITY_DAYS', 20));
const RENEW_BEFORE_MS = intFromEnv('BENCH_SERVE_RENEW_BEFORE_DAYS', 1) * DAY_MS;
const PROFILE = intFromEnv('BENCH_SERVE_PROFILE', 1) === 1;
/** The longest the cache-filling sweep of the every-context contender may take. */
const SWEEP_LIMIT_MS = 60_000;
const WATCHDOG_MS = 15 * 60_000;
/** Bytes a cached certificate takes on tmpfs (four small files of a page each, a folder). */
const TMPFS_BYTES_PER_CERTIFICATE = 5 * 4096;

setTimeout(() => {
  console.error(`serve bench: watchdog: still running after ${WATCHDOG_MS / 60_000} min, giving up`);
  killLiveChildren();
  process.exit(3);
}, WATCHDOG_MS).unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`serve bench: ${sig}, stopping`);
    killLiveChildren();
    process.exit(130);
  });
}

const mb = (bytes: number | undefined) =>
  bytes === undefined ? 'n/a' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const secs = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const r3 = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000;
const fmt = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(2));

let failures = 0;
const phase = <T>(title: string, body: () => Promise<T>) =>
  runPhase(title, body, () => {
    failures++;
  });

/** Where the cache goes: BENCH_SERVE_DIR, else /dev/shm when it holds the cache with room to spare. */
function scratchParent(count: number): string {
  if (process.env.BENCH_SERVE_DIR) return process.env.BENCH_SERVE_DIR;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > 4 * count * TMPFS_BYTES_PER_CERTIFICATE) return '/dev/shm';
  } catch {
    // no /dev/shm
  }
  return tmpdir();
}

/** rm -rf: far faster than fs.rmSync for 600,000 entries. Bounded like everything else. */
function removeTree(path: string): void {
  const run = spawnSync('rm', ['-rf', '--', path], { timeout: 300_000, stdio: 'ignore' });
  if (run.status !== 0)
    console.log(`  (could not remove ${path}: ${run.error?.message ?? `exit ${run.status}`})`);
}

/** A driver started from the repository, bounded by the start-up limit unless told otherwise. */
function launch(
  config: DriverConfig,
  probeNames: readonly string[],
  options: { profileDir?: string; limitMs?: number } = {},
) {
  return startDriver(root, config, probeNames, { limitMs: STARTUP_LIMIT_MS, ...options });
}

function describe(label: string, st: Started): void {
  describeStart(label, st, STARTUP_LIMIT_MS);
}

function printProfile(profile: ProfileSummary): void {
  console.log(`  CPU profile of this start-up (${secs(profile.totalMs)} sampled):`);
  console.log('    inclusive, tlsward functions:');
  for (const f of profile.inclusive.slice(0, 10))
    console.log(
      `      ${secs(f.ms).padStart(9)} ${((f.ms / profile.totalMs) * 100).toFixed(0).padStart(3)} %  ${f.name}`,
    );
  console.log('    self time:');
  for (const f of profile.self.slice(0, 10))
    console.log(
      `      ${secs(f.ms).padStart(9)} ${((f.ms / profile.totalMs) * 100).toFixed(0).padStart(3)} %  ${f.name}`,
    );
}

// --------------------------------------------------------------------------------------------- main

interface CacheRun {
  count: number;
  ungatedFailure: string | undefined;
  gated: boolean;
  started: Started;
  idle: Memory | undefined;
  profile: ProfileSummary | undefined;
}

async function main(): Promise<number> {
  const maxCount = Math.max(LOAD_CERTS, ...CERTS);
  console.log('tlsward serving benchmark');
  console.log(
    `  machine: ${availableParallelism()} CPU(s) (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, OpenSSL ${process.versions.openssl}`,
  );
  console.log(
    `  caches: ${CERTS.join(', ')} certificates; rate runs: ${LOAD_CERTS} certificates, ${CONCURRENCY} connections, ` +
      `${ROUNDS} round(s) of ${WARMUP_SECONDS} s warm-up + ${SECONDS} s; ECDSA P-256 certificates valid ` +
      `${VALIDITY_DAYS} d, renew-before ${RENEW_BEFORE_MS / DAY_MS} d`,
  );

  const scratch = mkdtempSync(join(scratchParent(maxCount), 'tlsward-serve-bench-'));
  const cacheRoot = join(scratch, 'cache');
  const echo = await startEchoServer();
  const running = new Set<EventChild>();
  const keep = (st: Started) => {
    running.add(st.driver);
    return st;
  };
  const summary: Record<string, unknown> = {
    cores: availableParallelism(),
    node: process.version,
    openssl: process.versions.openssl,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    rounds: ROUNDS,
  };
  try {
    // ------------------------------------------------------------------------------- certificates
    const generated = await phase(`Certificates: ${maxCount} into a FileStorage cache`, async () => {
      const result = await generateCache(cacheRoot, maxCount, VALIDITY_DAYS, (done) => {
        if (done % 50_000 === 0 && done < maxCount) console.log(`  ... ${done}`);
      });
      writeFileSync(join(scratch, 'plain-cert.pem'), result.samplePem);
      writeFileSync(join(scratch, 'plain-key.pem'), result.keyPem, { mode: 0o600 });
      console.log(
        `  ${maxCount} certificates in ${secs(result.ms)} (${((result.ms / maxCount) * 1000).toFixed(0)} us each) at ${cacheRoot}`,
      );
      return result;
    });
    if (!generated) return 1;
    summary.cacheDir = scratch;
    summary.generateSeconds = r3(generated.ms / 1000);

    // ------------------------------------------------------------------------------- base
    const base = await phase(
      'Start-up and memory: tlsward tcp-proxy, 1 managed certificate (the base)',
      async () => {
        const port = await freePort();
        const st = keep(await launch(tlswardConfig(1, port, echo.port, cacheRoot), [benchName(0)]));
        describe('1 certificate', st);
        if (!st.ok) throw new Error(`base: ${st.failure}`);
        const idle = await measureMemory(st.driver);
        console.log(`  idle: RSS ${mb(idle?.rss)} (heap ${mb(idle?.heapUsed)})`);
        return { started: st, idle, port };
      },
    );

    // ------------------------------------------------------------------------------- caches
    const runs: CacheRun[] = [];
    let loadDriver: { started: Started; port: number; gated: boolean } | undefined;
    for (const count of [...new Set([...CERTS, LOAD_CERTS])].sort((a, b) => a - b)) {
      const run = await phase(
        `Start-up and memory: tlsward tcp-proxy, ${count} managed certificates`,
        async () => {
          const port = await freePort();
          const largest = count === Math.max(...CERTS);
          const profileRoot = PROFILE && largest ? join(scratch, `profile-${count}`) : undefined;
          const probeNames = [benchName(0), benchName(count - 1)];
          // As the daemon does it; again behind the read gate only when that cannot start at all (EMFILE).
          let profile = profileRoot && `${profileRoot}-as-is`;
          let st = await launch(
            tlswardConfig(count, port, echo.port, cacheRoot),
            probeNames,
            profile ? { profileDir: profile } : {},
          );
          let ungatedFailure: string | undefined;
          if (!st.ok && READ_CONCURRENCY > 0 && /EMFILE/.test(st.failure ?? '')) {
            describe(`${count} certificates, storage as it is`, st);
            ungatedFailure = st.failure;
            await st.driver.stop(10_000);
            profile = profileRoot;
            st = await launch(
              tlswardConfig(count, port, echo.port, cacheRoot, { readConcurrency: READ_CONCURRENCY }),
              probeNames,
              profile ? { profileDir: profile } : {},
            );
          }
          const gated = ungatedFailure !== undefined;
          const cacheRun: CacheRun = {
            count,
            ungatedFailure,
            gated,
            started: st,
            idle: undefined,
            profile: undefined,
          };
          try {
            describe(
              `${count} certificates${gated ? `, storage reads gated to ${READ_CONCURRENCY} at once` : ''}`,
              st,
            );
            cacheRun.idle = await measureMemory(st.driver);
            const perCert = perCertificate(cacheRun.idle, base?.idle, count);
            console.log(
              `  ${st.ok ? 'idle' : 'at the cut-off'}: RSS ${mb(cacheRun.idle?.rss)} (heap ${mb(cacheRun.idle?.heapUsed)}, ` +
                `peak RSS ${mb(cacheRun.idle?.VmHWM)})` +
                (perCert === undefined
                  ? ''
                  : `; ${(perCert / 1024).toFixed(2)} KiB per certificate over the base`),
            );
          } finally {
            if (st.ok && count === LOAD_CERTS) {
              loadDriver = { started: keep(st), port, gated };
            } else {
              await st.driver.stop(120_000); // a profile of a long start-up takes a while to write
            }
          }
          if (profile) {
            const dir = profile;
            const file = existsSync(dir)
              ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
              : undefined;
            if (file) {
              cacheRun.profile = summarizeProfile(join(dir, file));
              printProfile(cacheRun.profile);
            }
          }
          return cacheRun;
        },
      );
      if (run) runs.push(run);
    }

    // ------------------------------------------------------------------------------- every context kept
    const hot = await phase(
      `Start-up and memory: ${LOAD_CERTS} certificates, contextCacheSize ${LOAD_CERTS} (every SecureContext kept)`,
      async () => {
        const port = await freePort();
        const st = keep(
          await launch(
            tlswardConfig(LOAD_CERTS, port, echo.port, cacheRoot, {
              contextCacheSize: LOAD_CERTS,
              ...(loadDriver?.gated ? { readConcurrency: READ_CONCURRENCY } : {}),
            }),
            [benchName(0)],
          ),
        );
        describe(`${LOAD_CERTS} certificates, every context cached`, st);
        if (!st.ok) throw new Error(String(st.failure));
        const memory = await measureMemory(st.driver);
        console.log(`  idle with ${LOAD_CERTS} SecureContexts built: RSS ${mb(memory?.rss)}`);
        return { started: st, port, memory };
      },
    );

    // ------------------------------------------------------------------------------- handshake rates
    const contenders: Contender[] = [];
    await phase(
      `Handshake rate: ${CONCURRENCY} connections, random SNI among ${LOAD_CERTS} names, close after the handshake`,
      async () => {
        for (const mode of ['plain', 'plain-relay'] as const) {
          const port = await freePort();
          const st = keep(
            await launch(
              {
                mode,
                port,
                upstreamPort: echo.port,
                certFile: join(scratch, 'plain-cert.pem'),
                keyFile: join(scratch, 'plain-key.pem'),
              },
              [benchName(0)],
              { limitMs: 30_000 },
            ),
          );
          if (!st.ok) throw new Error(`${mode}: ${st.failure}`);
          contenders.push({
            key: mode,
            label:
              mode === 'plain'
                ? 'plain tls.Server, 1 certificate'
                : 'plain tls.Server + relay to the backend',
            driver: st.driver,
            port,
            names: LOAD_CERTS,
            rounds: [],
          });
        }
        if (base)
          contenders.push({
            key: 'one',
            label: 'tlsward tcp-proxy, 1 certificate',
            driver: base.started.driver,
            port: base.port,
            names: 1,
            rounds: [],
          });
        if (loadDriver)
          contenders.push({
            key: 'tlsward',
            label: `tlsward tcp-proxy, ${LOAD_CERTS} certificates`,
            driver: loadDriver.started.driver,
            port: loadDriver.port,
            names: LOAD_CERTS,
            rounds: [],
          });
        if (hot)
          contenders.push({
            key: 'hot',
            label: `tlsward tcp-proxy, ${LOAD_CERTS}, every context cached`,
            driver: hot.started.driver,
            port: hot.port,
            names: LOAD_CERTS,
            rounds: [],
          });
        // JIT and first-handshake costs out of the way, unmeasured; the every-context contender meets every
        // name once, so that it is measured with its cache full (as it is, start() builds them all).
        for (const c of contenders) await runLoad(root, CONCURRENCY, c.driver, c.port, c.names, 0, 2_000);
        const hotContender = contenders.find((c) => c.key === 'hot');
        if (hotContender) {
          const sweep = await runLoad(
            root,
            CONCURRENCY,
            hotContender.driver,
            hotContender.port,
            LOAD_CERTS,
            0,
            SWEEP_LIMIT_MS,
            true,
          );
          console.log(
            `  every-context contender: ${sweep.handshakes} of ${LOAD_CERTS} names swept in ${secs((sweep.handshakes / sweep.perSecond) * 1000)} ` +
              `(${sweep.serverCpuUsPerHandshake?.toFixed(0) ?? 'n/a'} us server CPU each)`,
          );
        }
        for (let round = 0; round < ROUNDS; round++) {
          for (const c of contenders) {
            c.rounds.push(
              await runLoad(
                root,
                CONCURRENCY,
                c.driver,
                c.port,
                c.names,
                WARMUP_SECONDS * 1000,
                SECONDS * 1000,
              ),
            );
          }
        }
        console.log(`  best of ${ROUNDS} round(s):`);
        for (const c of contenders) printLoad(c.label, best(c));
      },
    );
    const afterLoad = loadDriver ? await measureMemory(loadDriver.started.driver) : undefined;
    if (afterLoad) console.log(`  ${LOAD_CERTS} certificates after the load: RSS ${mb(afterLoad.rss)}`);
    for (const child of running) await child.stop(10_000);
    running.clear();

    // ------------------------------------------------------------------------------- 90-day certificates
    const longLived = await phase(
      'Idle CPU with 90-day certificates, renew-before 30 d (due in ~60 d)',
      async () => {
        const count = 100;
        const longRoot = join(scratch, 'cache-90d');
        await generateCache(longRoot, count, 90);
        const port = await freePort();
        const st = await launch(
          { ...tlswardConfig(count, port, echo.port, longRoot), renewBeforeMs: 30 * DAY_MS },
          [benchName(0)],
          { limitMs: 30_000 },
        );
        try {
          describe(`${count} certificates`, st);
          const overflow = st.driver.output.includes('TimeoutOverflowWarning');
          if (overflow)
            console.log('  stderr: TimeoutOverflowWarning (a timer longer than 2^31-1 ms fires after 1 ms)');
          return { idleCpuShare: st.idleCpuShare, overflow };
        } finally {
          await st.driver.stop(5_000);
        }
      },
    );

    // ------------------------------------------------------------------------------- report
    const get = (key: string) => contenders.find((c) => c.key === key);
    const plain = best(get('plain'));
    const relay = best(get('plain-relay'));
    const one = best(get('one'));
    const tlsward = best(get('tlsward'));
    const allCached = best(get('hot'));
    const rate = (a: LoadResult | undefined, b: LoadResult | undefined) =>
      a && b && b.perSecond > 0 ? a.perSecond / b.perSecond : undefined;
    const capacity = (a: LoadResult | undefined, b: LoadResult | undefined) =>
      a?.serverCpuUsPerHandshake && b?.serverCpuUsPerHandshake
        ? b.serverCpuUsPerHandshake / a.serverCpuUsPerHandshake
        : undefined;
    const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'MET' : 'NOT MET');
    const ratio = rate(tlsward, plain);

    console.log('\n== Targets');
    console.log(
      `  (1) handshakes/s with ${LOAD_CERTS} certificates / plain tls.Server = ${fmt(ratio)} ` +
        `-> target >= 0.95: ${verdict(ratio === undefined ? undefined : ratio >= 0.95)}`,
    );
    console.log(
      `      same, by server CPU per handshake (what a saturated server would do) = ${fmt(capacity(tlsward, plain))}`,
    );
    console.log(
      `      / plain + relay: ${fmt(rate(tlsward, relay))} (CPU ${fmt(capacity(tlsward, relay))}); ` +
        `every context cached / plain: ${fmt(rate(allCached, plain))} (CPU ${fmt(capacity(allCached, plain))}); ` +
        `1 certificate / plain + relay: ${fmt(rate(one, relay))} (CPU ${fmt(capacity(one, relay))})`,
    );
    const perCert = runs.map((run) => ({
      count: run.count,
      bytes: run.started.ok ? perCertificate(run.idle, base?.idle, run.count) : undefined,
    }));
    for (const { count, bytes } of perCert) {
      console.log(
        `  (2) RSS per idle certificate, ${count}: ${bytes === undefined ? 'n/a (start-up did not finish)' : `${(bytes / 1024).toFixed(2)} KiB`} ` +
          `-> target <= 2 KB: ${verdict(bytes === undefined ? undefined : bytes <= 2048)}`,
      );
    }
    const largest = runs.find((run) => run.count === Math.max(...CERTS));
    const firstServed = largest?.started.firstNameMs;
    const allServed = largest?.started.ok ? largest.started.lastNameMs : undefined;
    console.log(
      `  (3) start-up at ${largest?.count ?? 'n/a'}: first handshake ${secs(firstServed)}, ` +
        `the last-loaded name ${secs(allServed)}${largest?.gated ? ' (storage reads gated: without, start-up fails)' : ''} ` +
        `-> target <= 3 s: ${verdict(largest ? firstServed !== undefined && allServed !== undefined && allServed <= 3000 : undefined)}`,
    );
    console.log(
      `      (node + tsx + imports, 1 certificate: first handshake ${secs(base?.started.firstNameMs)})`,
    );
    if (longLived)
      console.log(
        `  idle CPU with 90-day certificates: ${longLived.idleCpuShare === undefined ? 'n/a' : `${(longLived.idleCpuShare * 100).toFixed(1)} % of a core`}`,
      );

    Object.assign(summary, {
      rates: Object.fromEntries(
        contenders.map((c) => [c.key, { best: loadJson(best(c)), rounds: c.rounds.map(loadJson) }]),
      ),
      ratios: {
        overPlain: r3(ratio),
        overPlainByCpu: r3(capacity(tlsward, plain)),
        overPlainRelay: r3(rate(tlsward, relay)),
        overPlainRelayByCpu: r3(capacity(tlsward, relay)),
        allCachedOverPlain: r3(rate(allCached, plain)),
        allCachedOverPlainByCpu: r3(capacity(allCached, plain)),
        oneCertificateOverPlainRelay: r3(rate(one, relay)),
        oneCertificateOverPlainRelayByCpu: r3(capacity(one, relay)),
      },
      base: base && {
        firstHandshakeSeconds: r3(base.started.firstNameMs && base.started.firstNameMs / 1000),
        rss: base.idle?.rss,
        heapUsed: base.idle?.heapUsed,
      },
      caches: runs.map((run) => ({
        certificates: run.count,
        ungatedStartFailure: run.ungatedFailure ?? null,
        readGate: run.gated ? READ_CONCURRENCY : null,
        started: run.started.ok,
        failure: run.started.failure ?? null,
        listeningSeconds: r3(run.started.listeningMs && run.started.listeningMs / 1000),
        firstHandshakeSeconds: r3(run.started.firstNameMs && run.started.firstNameMs / 1000),
        lastNameHandshakeSeconds: r3(run.started.lastNameMs && run.started.lastNameMs / 1000),
        startSeconds: r3(run.started.startedMs && run.started.startedMs / 1000),
        installedAtCutoff: run.started.installedAtCutoff ?? null,
        idleCpuShare: r3(run.started.idleCpuShare),
        rss: run.idle?.rss,
        heapUsed: run.idle?.heapUsed,
        peakRss: run.idle?.VmHWM,
        bytesPerCertificate: r3(perCert.find((p) => p.count === run.count)?.bytes),
        profileTop: run.profile?.inclusive
          .slice(0, 8)
          .map((f) => ({ name: f.name, seconds: r3(f.ms / 1000) })),
      })),
      rssAfterLoad: afterLoad?.rss,
      allContextsCachedRss: hot?.memory?.rss,
      idleCpuShare90Day: r3(longLived?.idleCpuShare),
    });
  } catch (error) {
    console.log(`\nserve bench: FAILED: ${errorText(error)}`);
    failures++;
  } finally {
    for (const child of running) await child.stop(5_000);
    echo.close();
    killLiveChildren();
    removeTree(scratch);
  }
  console.log(`\nBENCH_SERVE ${JSON.stringify(summary)}`);
  return failures === 0 ? 0 : 1;
}

function tlswardConfig(
  count: number,
  port: number,
  upstreamPort: number,
  cacheRoot: string,
  extra: Partial<DriverConfig> = {},
): DriverConfig {
  return {
    mode: 'tlsward',
    port,
    upstreamPort,
    root: cacheRoot,
    count,
    renewBeforeMs: RENEW_BEFORE_MS,
    progressMs: 1_000,
    ...extra,
  };
}

/** RSS over the 1-certificate base, per additional certificate. */
function perCertificate(memory: Memory | undefined, base: Memory | undefined, count: number) {
  return memory && base ? (memory.rss - base.rss) / (count - 1) : undefined;
}

process.exitCode = await main();
