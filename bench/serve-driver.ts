// The serving side of the serving benchmark, one process per measurement so its memory is its own:
//   tlsward      CertificateManager over a FileStorage cache of N certificates (one managed spec each,
//                an issuer that must never be called) behind the daemon's own tcp-proxy listener
//                (src/daemon/listeners.ts: ClientHello peek, SNI choice, TLS termination, relay upstream)
//   plain        tls.createServer({ cert, key }) with one certificate, nothing after the handshake
//   plain-relay  the same, relaying each connection to the upstream with the same relay() as tcp-proxy
// Configuration: one JSON argument (DriverConfig). Output: `SERVE {json}` lines on stdout. Commands, one
// per stdin line: `measure` (GC, then memory figures), `cpu` (CPU time so far), `exit`.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { startListener } from '../src/daemon/listeners.js';
import { createLogger } from '../src/daemon/logger.js';
import type { Issuer } from '../src/issuers/issuer.js';
import { CertificateManager } from '../src/manager/certificate-manager.js';
import { relay } from '../src/server/relay.js';
import { HttpChallenges } from '../src/solvers/http-01.js';
import { TlsAlpnChallenges } from '../src/solvers/tls-alpn-01.js';
import { FileStorage } from '../src/storage/fs.js';
import type { StorageOptions } from '../src/storage/storage.js';
import { BENCH_ISSUER_ID, benchName } from './serve-certs.js';

export interface DriverConfig {
  readonly mode: 'tlsward' | 'plain' | 'plain-relay';
  readonly port: number;
  readonly upstreamPort: number;
  /** tlsward: the FileStorage root and how many of its certificates to manage. */
  readonly root?: string;
  readonly count?: number;
  readonly renewBeforeMs?: number;
  /** tlsward: CertificateManagerOptions.contextCacheSize (undefined: the manager's default). */
  readonly contextCacheSize?: number;
  /** plain: the one certificate. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Print `installed` progress lines this often while start() runs (ms); 0: never. */
  readonly progressMs?: number;
  /**
   * tlsward: at most this many storage reads at once (a bench-side Storage wrapper). start() reads every
   * certificate at once, which runs out of file descriptors (EMFILE) beyond ~ulimit/3 certificates; the
   * gate shows what start-up costs once that is bounded. 0/undefined: storage as it is.
   */
  readonly readConcurrency?: number;
}

/** A FileStorage whose get() waits for one of `limit` slots; everything else passes straight through. */
class GatedStorage extends FileStorage {
  readonly #limit: number;
  #active = 0;
  /** A FIFO with a moving head: shift() on an array of 300,000 waiters would be quadratic. */
  readonly #waiting: (() => void)[] = [];
  #head = 0;
  constructor(root: string, limit: number) {
    super({ root });
    this.#limit = limit;
  }
  override async get(key: string, options?: StorageOptions): Promise<Uint8Array | undefined> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await super.get(key, options);
    } finally {
      const next = this.#waiting[this.#head];
      if (next) {
        this.#waiting[this.#head++] = undefined as never;
        if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
          this.#waiting.splice(0, this.#head);
          this.#head = 0;
        }
        next(); // the slot passes straight to the next waiter
      } else this.#active--;
    }
  }
}

const config = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const upstream = { host: '127.0.0.1', port: config.upstreamPort };

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`SERVE ${JSON.stringify({ event, t: performance.now(), ...fields })}\n`);
}

function readStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const match = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (match) out[match[1]!] = Number(match[2]) * 1024;
  }
  return out;
}

async function measure(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const usage = process.memoryUsage();
  report('memory', {
    gc: gc !== undefined,
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    ...readStatus(),
  });
}

async function startTlsward(): Promise<void> {
  if (!config.root) throw new TypeError('tlsward mode needs root');
  const count = config.count ?? 0;
  const storage = config.readConcurrency
    ? new GatedStorage(config.root, config.readConcurrency)
    : new FileStorage({ root: config.root });
  const manager = new CertificateManager({
    storage,
    ...(config.contextCacheSize ? { contextCacheSize: config.contextCacheSize } : {}),
  });
  const issuer: Issuer = {
    id: BENCH_ISSUER_ID,
    issue: async () => {
      throw new Error('bench: the issuer must never be called (a stored certificate was not found)');
    },
  };
  let installed = 0;
  let obtaining = 0;
  let failed = 0;
  manager.events.on('certificate-installed', () => installed++);
  manager.events.on('obtaining', () => obtaining++);
  manager.events.on('renewal-failed', () => failed++);
  const renewBeforeMs = config.renewBeforeMs ?? 86_400_000;
  for (let i = 0; i < count; i++) {
    manager.add({ id: `c${i}`, names: [benchName(i)], issuer, renewBeforeMs });
  }
  report('added', { count });
  const listener = await startListener(
    {
      id: 'bench',
      protocol: 'tcp-proxy',
      served: true,
      bind: [{ host: '127.0.0.1', port: config.port }],
      tls: { implicit: true, certificate: undefined },
      sniFallback: 'refuse',
      upstream,
      proxyProtocol: undefined,
    },
    {
      manager,
      tlsAlpn: new TlsAlpnChallenges(),
      http: new HttpChallenges(),
      logger: createLogger({ level: 'error', format: 'json' }),
      staticCertificateId: (id) => id,
    },
  );
  report('listening', { port: listener.addresses[0]?.port });
  const progress =
    config.progressMs && config.progressMs > 0
      ? setInterval(() => report('progress', { installed }), config.progressMs)
      : undefined;
  await manager.start(); // returns at once: handshakes are served while the cache is read
  await manager.ready();
  if (progress) clearInterval(progress);
  report('started', { installed, obtaining, failed });
  // Anything the manager does after start (it should do nothing: no certificate is due) shows up here.
  setInterval(() => {
    if (obtaining > 0 || failed > 0) report('unexpected', { obtaining, failed });
  }, 1_000).unref();
}

async function startPlain(withRelay: boolean): Promise<void> {
  if (!config.certFile || !config.keyFile) throw new TypeError('plain mode needs certFile and keyFile');
  const server = tls.createServer({
    cert: readFileSync(config.certFile),
    key: readFileSync(config.keyFile),
  });
  server.on('secureConnection', (socket) => {
    if (withRelay) {
      relay(socket, upstream, { onError: () => {} });
      return;
    }
    socket.on('error', () => {});
    socket.resume(); // read until the client's close; then allowHalfOpen=false ends ours
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', () => resolve());
  });
  report('listening', { port: config.port });
  report('started', {});
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'measure') void measure();
  else if (command === 'cpu') {
    const cpu = process.cpuUsage();
    report('cpu', { user: cpu.user, system: cpu.system });
  } else if (command === 'exit') process.exit(0); // a normal exit, so --cpu-prof writes its profile
});
process.stdin.on('end', () => process.exit(0)); // the benchmark went away
process.on('SIGTERM', () => process.exit(0));

try {
  if (config.mode === 'tlsward') await startTlsward();
  else await startPlain(config.mode === 'plain-relay');
} catch (error) {
  report('failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
