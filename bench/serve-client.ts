// The client of the serving benchmark, a process of its own: K loops, each opening a TLS connection to
// 127.0.0.1:port with a random SNI name among the first N bench names, counting the handshake as done at
// 'secureConnect', then closing at once (end, wait for close) and starting the next. Full handshakes
// every time (no session reuse); certificates are not verified (self-signed), signatures still are.
// A warm-up period is not counted. Output: `CLIENT {json}` lines (window-start, window-end, result).
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { benchName } from './serve-certs.js';

export interface ClientConfig {
  readonly port: number;
  /** SNI names are drawn from benchName(0..names-1). */
  readonly names: number;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** A connection not done by then counts as an error. */
  readonly timeoutMs?: number;
  /**
   * Instead of random names for a while: every name once, in order (K at a time), to fill a server's
   * caches; ends when done or when the window ends. The result counts the handshakes of the sweep.
   */
  readonly sweep?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig;
const timeoutMs = config.timeoutMs ?? 5_000;

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`CLIENT ${JSON.stringify({ event, t: performance.now(), ...fields })}\n`);
}

const started = performance.now();
const windowStart = started + config.warmupMs;
const windowEnd = windowStart + config.durationMs;
let handshakes = 0;
let warmupHandshakes = 0;
let errors = 0;
const errorKinds = new Map<string, number>();
const latencies: number[] = [];
let cpuAtStart: NodeJS.CpuUsage | undefined;

function once(index: number): Promise<void> {
  return new Promise((resolve) => {
    const begin = performance.now();
    let settled = false;
    const socket = tls.connect({
      host: '127.0.0.1',
      port: config.port,
      servername: benchName(index),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => fail(new Error('timeout')), timeoutMs);
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve();
    };
    const fail = (error: Error) => {
      if (!settled) {
        const now = performance.now();
        if (now >= windowStart && now < windowEnd) {
          errors++;
          const kind = (error as NodeJS.ErrnoException).code ?? error.message.slice(0, 60);
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
        }
      }
      socket.destroy();
      done();
    };
    socket.once('secureConnect', () => {
      const now = performance.now();
      if (now >= windowStart && now < windowEnd) {
        handshakes++;
        latencies.push(now - begin);
      } else if (now < windowStart) warmupHandshakes++;
      socket.end();
    });
    socket.on('error', fail);
    socket.on('data', () => {});
    socket.once('close', done);
  });
}

let nextInSweep = 0;
async function loop(): Promise<void> {
  // Bounded by time (windowEnd) and, as a backstop, by count.
  for (let i = 0; i < 10_000_000 && performance.now() < windowEnd; i++) {
    if (config.sweep) {
      if (nextInSweep >= config.names) return;
      await once(nextInSweep++);
    } else await once(Math.floor(Math.random() * config.names));
  }
}

setTimeout(() => {
  cpuAtStart = process.cpuUsage();
  report('window-start');
}, config.warmupMs);
setTimeout(() => report('window-end'), config.warmupMs + config.durationMs);

await Promise.all(Array.from({ length: config.concurrency }, () => loop()));
const cpu = process.cpuUsage(cpuAtStart);
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
report('result', {
  handshakes,
  warmupHandshakes,
  errors,
  errorKinds: Object.fromEntries(errorKinds),
  perSecond: handshakes / ((Math.min(performance.now(), windowEnd) - windowStart) / 1000),
  sweptAll: config.sweep ? nextInSweep >= config.names : undefined,
  latencyMs: { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] },
  clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
});
process.exit(0);
