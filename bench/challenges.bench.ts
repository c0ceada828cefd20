// One name by HTTP-01 and by DNS-01 (RFC 2136 updates with TSIG to a real Knot), tlsward's CLI next to lego
// against the same Pebble and DNS server, with ratios. Pebble asks Knot for every name (`* A 127.0.0.1`
// in the zone serves HTTP-01, the TXT records DNS-01). Prints a `BENCH-CHALLENGES {...}` JSON line.
// Knobs: BENCH_RUNS (5), BENCH_LEGO_RUNS (3).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKnot } from '../test/integration/support/knot.js';
import { startPebble } from '../test/integration/support/pebble.js';
import { CONTACT, type SeriesResult, series, skipped } from './peers.js';
import { killLiveChildren, onPath, round, runTimed, secs } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'tlsward.js');
const runsFrom = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const RUNS = runsFrom('BENCH_RUNS', 5);
const LEGO_RUNS = runsFrom('BENCH_LEGO_RUNS', 3);

setTimeout(() => {
  console.error('bench: challenges: still running after 15 min, giving up');
  killLiveChildren();
  process.exit(3);
}, 15 * 60_000).unref();

const scratch = mkdtempSync(join(tmpdir(), 'tlsward-bench-challenges-'));
const knot = await startKnot({ zones: ['example.test'] });
const pebble = await startPebble({ dnsServer: knot.address });
const secretFile = join(scratch, 'tsig.secret');
writeFileSync(secretFile, knot.tsig.secret, { mode: 0o600 });

const tlswardArgs = (i: number, name: string) => [
  bin,
  'issue',
  ...['--directory', pebble.directoryUrl, '--ca-file', pebble.caFile, '--contact', CONTACT],
  ...['--cache', join(scratch, `tlsward-${name}-${i}`), '--domain', name, '--json'],
];
const legoArgs = (i: number, name: string, kind: string) => [
  ...['--server', pebble.directoryUrl, '--accept-tos', '--email', CONTACT],
  ...['--path', join(scratch, `lego-${kind}-${i}`), '--key-type', 'ec256', '--domains', name],
];
const legoEnv = { LEGO_CA_CERTIFICATES: pebble.caFile };
const legoCertificate = (i: number, kind: string, name: string) =>
  join(scratch, `lego-${kind}-${i}`, 'certificates', `${name}.crt`);

async function tlswardSeries(kind: 'http-01' | 'dns-01'): Promise<SeriesResult> {
  const extra =
    kind === 'http-01'
      ? ['--challenge', 'http-01', '--port', String(pebble.httpPort), '--listen', '127.0.0.1']
      : [
          ...['--challenge', 'dns-01', '--dns-server', knot.address, '--dns-resolver', knot.address],
          ...['--dns-nameserver', knot.address, '--tsig-key', knot.tsig.name],
          ...['--tsig-algorithm', knot.tsig.algorithm, '--tsig-secret-file', secretFile],
        ];
  return series(`tlsward ${kind}`, 1, RUNS, async (i) => ({
    run: await runTimed(process.execPath, [...tlswardArgs(i, `t-${kind}-${i}.example.test`), ...extra], {
      timeoutMs: 60_000,
    }),
  }));
}

async function legoSeries(kind: 'http-01' | 'dns-01'): Promise<SeriesResult> {
  const client = `lego ${kind}`;
  if (!onPath('lego')) return skipped(client, LEGO_RUNS, 'lego is not installed');
  return series(client, 0, LEGO_RUNS, async (i) => {
    const name = `l-${kind}-${i}.example.test`;
    const args =
      kind === 'http-01'
        ? [...legoArgs(i, name, kind), '--http', '--http.port', `127.0.0.1:${pebble.httpPort}`, 'run']
        : [
            ...legoArgs(i, name, kind),
            ...['--dns', 'rfc2136', '--dns.resolvers', knot.address, '--dns.disable-cp', 'run'],
          ];
    const env =
      kind === 'http-01'
        ? legoEnv
        : {
            ...legoEnv,
            RFC2136_NAMESERVER: knot.address,
            RFC2136_TSIG_ALGORITHM: `${knot.tsig.algorithm}.`,
            RFC2136_TSIG_KEY: knot.tsig.name,
            RFC2136_TSIG_SECRET: knot.tsig.secret,
            RFC2136_PROPAGATION_TIMEOUT: '10',
            RFC2136_POLLING_INTERVAL: '1',
          };
    const run = await runTimed('lego', args, { timeoutMs: 120_000, env });
    return run.ok && !existsSync(legoCertificate(i, kind, name))
      ? { run, problem: 'no certificate written' }
      : { run };
  });
}

const summary: Record<string, unknown> = {};
try {
  for (const kind of ['http-01', 'dns-01'] as const) {
    console.log(`\n== one name over ${kind}`);
    const ours = await tlswardSeries(kind);
    const lego = await legoSeries(kind);
    const ratio = ours.stats && lego.stats ? round(ours.stats.median / lego.stats.median) : null;
    console.log(
      `  median: tlsward ${secs(ours.stats?.median)}, lego ${secs(lego.stats?.median)}, ratio tlsward/lego ${ratio ?? 'n/a'}`,
    );
    summary[kind] = {
      tlswardMedianMs: round(ours.stats?.median, 1),
      legoMedianMs: round(lego.stats?.median, 1),
      ratio,
      failures: { tlsward: ours.failures, lego: lego.failures },
      notes: [ours.note, lego.note].filter(Boolean),
    };
  }
} finally {
  await pebble.stop();
  await knot.stop();
}
console.log(`BENCH-CHALLENGES ${JSON.stringify(summary)}`);
