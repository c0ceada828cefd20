// Starts a real Pebble ACME server on loopback for integration tests: JSON config in a temp folder with
// fresh free ports, HTTPS with the per-process test CA, -dnsserver always passed (default: a shared
// pebble-challtestsrv), PEBBLE_VA_NOSLEEP=1 unless overridden, Pebble's default 5 % nonce rejection kept.
// Resolves once the directory answers over HTTPS. `withPebble()` wires start/stop into node:test hooks.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { type ChallTestSrv, sharedChallTestSrv } from './challtestsrv.js';
import { fetchText } from './http.js';
import {
  forgetTempDir,
  freePort,
  type ManagedProcess,
  removeAtExit,
  startProcess,
  waitForHttp,
  waitForPort,
} from './processes.js';
import { getTestCa } from './test-ca.js';

export interface PebbleOptions {
  /** Extra environment for Pebble (e.g. PEBBLE_AUTHZREUSE, PEBBLE_VA_ALWAYS_VALID, PEBBLE_CHAIN_LENGTH). */
  env?: Record<string, string>;
  /** Lifetime of issued certificates in seconds (Pebble's default: 5 years). */
  certificateValidityPeriod?: number;
  /** kid -> base64url HMAC key; when given, external account binding is required. */
  eabKeys?: Record<string, string>;
  /** host:port of the DNS server Pebble's VA uses. Default: the shared challtestsrv (started on demand). */
  dnsServer?: string;
  /** PEBBLE_WFE_NONCEREJECT: percent of good nonces rejected with badNonce (Pebble's default: 5). */
  nonceRejectPercent?: number;
  /** Start-up timeout in ms (default 20 s). */
  timeoutMs?: number;
}

export interface RunningPebble {
  /** https://127.0.0.1:PORT/dir */
  directoryUrl: string;
  /** Port Pebble's VA dials for tls-alpn-01 on the name's address (127.0.0.1 via challtestsrv). */
  tlsPort: number;
  /** Port Pebble's VA dials for http-01. */
  httpPort: number;
  /** https://127.0.0.1:PORT of the management API (same CA as the directory). */
  managementUrl: string;
  /** PEM file trusting Pebble's HTTPS listeners (not the roots Pebble issues from). */
  caFile: string;
  caPem: string;
  /** The DNS server Pebble was started with (host:port). */
  dnsServer: string;
  /** The shared challtestsrv when Pebble uses it (no `dnsServer` option), for setTxt/clearTxt. */
  challtestsrv: ChallTestSrv | undefined;
  /** The Pebble config file in use. */
  configFile: string;
  /** The current Pebble process (replaced by restart()). */
  readonly process: ManagedProcess;
  /** GET a management API path (e.g. `/cert-status-by-serial/<hex>`), trusting caPem; fails unless 2xx. */
  management(path: string): Promise<string>;
  /** Root certificate PEM (/roots/0); changes at every start. */
  rootPem(index?: number): Promise<string>;
  /** Intermediate certificate PEM (/intermediates/0). */
  intermediatePem(index?: number): Promise<string>;
  /** Stops and starts Pebble on the same ports: new roots, all accounts/orders forgotten. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

interface Ports {
  acme: number;
  management: number;
  http: number;
  tls: number;
}

async function pickPorts(): Promise<Ports> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [acme, management, http, tls] = [...ports] as [number, number, number, number];
  return { acme, management, http, tls };
}

function isPortClash(error: unknown): boolean {
  return error instanceof Error && /address already in use/i.test(error.message);
}

/** Starts Pebble; stop() it (or rely on the exit-time registry) when done. */
export async function startPebble(options: PebbleOptions = {}): Promise<RunningPebble> {
  const ca = await getTestCa();
  const challtestsrv = options.dnsServer === undefined ? await sharedChallTestSrv() : undefined;
  const dnsServer = options.dnsServer ?? challtestsrv!.dnsAddress;
  const dir = mkdtempSync(join(tmpdir(), 'tlsward-pebble-'));
  removeAtExit(dir);
  const configFile = join(dir, 'pebble-config.json');
  const timeoutMs = options.timeoutMs ?? 20_000;
  const env: Record<string, string> = { PEBBLE_VA_NOSLEEP: '1' };
  if (options.nonceRejectPercent !== undefined)
    env.PEBBLE_WFE_NONCEREJECT = String(options.nonceRejectPercent);
  Object.assign(env, options.env);

  const writeConfig = (ports: Ports) => {
    const pebble: Record<string, unknown> = {
      listenAddress: `127.0.0.1:${ports.acme}`,
      managementListenAddress: `127.0.0.1:${ports.management}`,
      certificate: ca.serverCertFile,
      privateKey: ca.serverKeyFile,
      httpPort: ports.http,
      tlsPort: ports.tls,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eabKeys !== undefined,
    };
    if (options.eabKeys !== undefined) pebble.externalAccountMACKeys = options.eabKeys;
    if (options.certificateValidityPeriod !== undefined) {
      pebble.certificateValidityPeriod = options.certificateValidityPeriod;
    }
    writeFileSync(configFile, `${JSON.stringify({ pebble }, null, 2)}\n`);
  };

  const launch = async (ports: Ports): Promise<ManagedProcess> => {
    const proc = startProcess('pebble', ['-config', configFile, '-dnsserver', dnsServer], {
      name: 'pebble',
      env,
      cwd: dir,
    });
    try {
      await waitForHttp(`https://127.0.0.1:${ports.acme}/dir`, { ca: ca.caCertPem, timeoutMs, proc });
      await waitForPort(ports.management, { timeoutMs, proc });
    } catch (error) {
      await proc.stop(1_000);
      throw error;
    }
    return proc;
  };

  let ports: Ports | undefined;
  let proc: ManagedProcess | undefined;
  for (let attempt = 1; proc === undefined; attempt++) {
    ports = await pickPorts();
    writeConfig(ports);
    try {
      proc = await launch(ports);
    } catch (error) {
      if (!isPortClash(error) || attempt >= 3) {
        forgetTempDir(dir);
        throw error;
      }
    }
  }
  const p = ports!;
  let current = proc;
  const managementUrl = `https://127.0.0.1:${p.management}`;
  const management = (path: string) => fetchText(`${managementUrl}${path}`, { ca: ca.caCertPem });

  const stop = async () => {
    await current.stop();
    forgetTempDir(dir);
  };

  return {
    directoryUrl: `https://127.0.0.1:${p.acme}/dir`,
    tlsPort: p.tls,
    httpPort: p.http,
    managementUrl,
    caFile: ca.caCertFile,
    caPem: ca.caCertPem,
    dnsServer,
    challtestsrv,
    configFile,
    get process() {
      return current;
    },
    management,
    rootPem: (index = 0) => management(`/roots/${index}`),
    intermediatePem: (index = 0) => management(`/intermediates/${index}`),
    restart: async () => {
      await current.stop();
      // The old listeners are closed once the process has exited; a lingering socket would show up as
      // "address already in use", so retry briefly on the same ports.
      for (let attempt = 1; ; attempt++) {
        try {
          current = await launch(p);
          return;
        } catch (error) {
          if (!isPortClash(error) || attempt >= 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    },
    stop,
  };
}

/**
 * Starts Pebble in a node:test `before` hook and stops it in `after`. Call at the top of a file or inside a
 * `describe`; the returned getter is valid inside tests. Example:
 *   const pebble = withPebble(); it('...', async () => { pebble().directoryUrl ... });
 */
export function withPebble(options: PebbleOptions = {}): () => RunningPebble {
  let running: RunningPebble | undefined;
  before(async () => {
    running = await startPebble(options);
  });
  after(async () => {
    await running?.stop();
  });
  return () => {
    if (!running) throw new Error('withPebble: Pebble is not running (used outside a test?)');
    return running;
  };
}
