// Bulk issuance through the library: one AcmeIssuer (one account), one FileStorage in a temp folder, one
// shared TLS-ALPN-01 listener on Pebble's tlsPort, N distinct names through a pool of C workers. Besides
// the rate it records who burnt the CPU (this Node process, Pebble, the DNS stand-in) and how busy Node's
// event loop was, to tell whether tlsward or Pebble (or the machine) is the limit.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeFetch } from '../src/acme/fetch.js';
import type { FetchLike } from '../src/acme/http.js';
import { AcmeIssuer } from '../src/issuers/acme-issuer.js';
import { CertificateStore } from '../src/manager/certificate-store.js';
import { createSharedTlsListener } from '../src/server/alpn-tls-server.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../src/solvers/tls-alpn-01.js';
import { FileStorage } from '../src/storage/fs.js';
import type { BenchTarget } from './peers.js';
import { percentile, processCpuSeconds, secs, stats } from './support.js';

export interface BulkOptions {
  count: number;
  concurrency: number;
  /** Bound of one issuance. */
  perIssueTimeoutMs: number;
  /** Bound of the whole batch; what is left is aborted and counted as failed. */
  totalTimeoutMs: number;
  pebblePid: number;
  dnsPid?: number;
}

export interface BulkResult {
  count: number;
  concurrency: number;
  issued: number;
  failures: number;
  errors: string[];
  warmupMs: number | undefined;
  totalMs: number;
  certsPerSecond: number;
  latencyMs: { median?: number; p95?: number; max?: number };
  httpRequests: number;
  httpStatus: Record<string, number>;
  challengesAnswered: number;
  cores: number;
  nodeCpuSeconds: number;
  pebbleCpuSeconds: number | undefined;
  dnsCpuSeconds: number | undefined;
  eventLoopUtilization: number;
}

export async function benchBulk(target: BenchTarget, options: BulkOptions): Promise<BulkResult> {
  const challenges = new TlsAlpnChallenges();
  let challengesAnswered = 0;
  const listenerProblems = new Map<string, number>();
  const listener = createSharedTlsListener({
    challenges,
    onEvent: (event) => {
      if (event.type === 'challenge-answered') challengesAnswered++;
      else listenerProblems.set(event.type, (listenerProblems.get(event.type) ?? 0) + 1);
    },
  });
  await listener.listen(target.tlsPort, '127.0.0.1');

  // Counts every ACME HTTP exchange (and its status) without touching the body.
  const trusting = nodeFetch({ ca: target.caPem });
  let httpRequests = 0;
  const httpStatus: Record<string, number> = {};
  const countingFetch: FetchLike = async (url, init) => {
    httpRequests++;
    const response = await trusting(url, init);
    httpStatus[response.status] = (httpStatus[response.status] ?? 0) + 1;
    return response;
  };

  const storage = new FileStorage({ root: join(target.scratch, 'bulk-storage') });
  const store = new CertificateStore(storage);
  const issuer = new AcmeIssuer({
    directoryUrl: target.directoryUrl,
    storage,
    contact: ['bench@example.test'],
    solvers: [new TlsAlpn01Solver(challenges)],
    fetch: countingFetch,
  });
  const overall = new AbortController();
  const issueOne = async (name: string): Promise<void> => {
    const signal = AbortSignal.any([overall.signal, AbortSignal.timeout(options.perIssueTimeoutMs)]);
    const issued = await issuer.issue({ names: [name] }, signal);
    await store.save(issuer.id, issued, signal);
  };

  try {
    // Warm-up: registers the account and warms the JIT; not part of the batch.
    let warmupMs: number | undefined;
    const warmStart = performance.now();
    try {
      await issueOne('bulk-warmup.bench.example.test');
      warmupMs = performance.now() - warmStart;
      console.log(`  warm-up issuance (registers the account): ${secs(warmupMs)}`);
    } catch (error) {
      console.log(`  warm-up issuance FAILED: ${message(error)}`);
    }
    httpRequests = 0;
    for (const key of Object.keys(httpStatus)) delete httpStatus[key];
    challengesAnswered = 0;

    const names = Array.from(
      { length: options.count },
      (_, i) => `bulk-${String(i).padStart(4, '0')}.bench.example.test`,
    );
    const latencies: number[] = [];
    const errors = new Map<string, number>();
    let next = 0;
    let done = 0;
    const deadline = setTimeout(
      () => overall.abort(new Error('bulk batch deadline reached')),
      options.totalTimeoutMs,
    );

    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const pebble0 = processCpuSeconds(options.pebblePid);
    const dns0 = options.dnsPid === undefined ? undefined : processCpuSeconds(options.dnsPid);
    const t0 = performance.now();
    const progress = setInterval(() => {
      console.log(`  ... ${done}/${options.count} done after ${secs(performance.now() - t0)}`);
    }, 5_000);

    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const name = names[next++]!;
        const started = performance.now();
        try {
          await issueOne(name);
          latencies.push(performance.now() - started);
        } catch (error) {
          const text = message(error);
          errors.set(text, (errors.get(text) ?? 0) + 1);
        } finally {
          done++;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(options.concurrency, names.length) }, worker));
    } finally {
      clearTimeout(deadline);
      clearInterval(progress);
    }

    const totalMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const pebble1 = processCpuSeconds(options.pebblePid);
    const dns1 = options.dnsPid === undefined ? undefined : processCpuSeconds(options.dnsPid);
    const lat = stats(latencies);
    const failures = names.length - latencies.length;
    if (listenerProblems.size > 0) {
      console.log(
        `  listener events besides answers: ${JSON.stringify(Object.fromEntries(listenerProblems))}`,
      );
    }
    return {
      count: names.length,
      concurrency: options.concurrency,
      issued: latencies.length,
      failures,
      errors: [...errors].map(([text, n]) => `${n}x ${text}`).slice(0, 5),
      warmupMs,
      totalMs,
      certsPerSecond: latencies.length / (totalMs / 1000),
      latencyMs: { median: lat?.median, p95: percentile(latencies, 0.95), max: lat?.max },
      httpRequests,
      httpStatus: { ...httpStatus },
      challengesAnswered,
      cores: availableParallelism(),
      nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
      pebbleCpuSeconds: pebble0 !== undefined && pebble1 !== undefined ? pebble1 - pebble0 : undefined,
      dnsCpuSeconds: dns0 !== undefined && dns1 !== undefined ? dns1 - dns0 : undefined,
      eventLoopUtilization: elu.utilization,
    };
  } finally {
    overall.abort(new Error('bulk benchmark finished'));
    await listener.close();
  }
}

function message(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split('\n')[0]!.slice(0, 300);
}
