// pebble-challtestsrv as a loopback fake DNS server for Pebble and DNS-01 tests: every name answers A with
// 127.0.0.1 and no AAAA (Pebble dials only the first address and prefers AAAA); TXT records are set and
// cleared over its management HTTP API. Its HTTP-01/HTTPS/TLS-ALPN-01 responders are disabled: tlsward
// answers those challenges itself. Debian's build (Pebble 2.4.0) has no -doh flag.
import { postJson } from './http.js';
import { freePort, type ManagedProcess, startProcess, waitForHttp, waitForPort } from './processes.js';

export interface ChallTestSrv {
  /** host:port of the DNS server (UDP and TCP), e.g. for Pebble's -dnsserver or Resolver.setServers(). */
  dnsAddress: string;
  dnsPort: number;
  /** http://127.0.0.1:PORT of the management API. */
  managementUrl: string;
  readonly process: ManagedProcess;
  /** Adds a TXT value for `name` (values accumulate: a name and its wildcard share one TXT name). */
  setTxt(name: string, value: string): Promise<void>;
  /** Removes every TXT value for `name`. */
  clearTxt(name: string): Promise<void>;
  /** Answers A queries for `name` with `addresses` instead of the default 127.0.0.1. */
  addA(name: string, addresses: string[]): Promise<void>;
  clearA(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** challtestsrv matches names as fully qualified: always send the trailing dot. */
function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

async function startOnce(): Promise<ChallTestSrv> {
  const dnsPort = await freePort();
  const managementPort = await freePort();
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  const proc = startProcess(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${managementPort}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    { name: 'pebble-challtestsrv' },
  );
  try {
    await waitForPort(dnsPort, { proc });
    await waitForHttp(`${managementUrl}/`, { proc });
  } catch (error) {
    await proc.stop(1_000);
    throw error;
  }
  const post = async (path: string, body: unknown) => {
    await postJson(`${managementUrl}${path}`, body);
  };
  return {
    dnsAddress: `127.0.0.1:${dnsPort}`,
    dnsPort,
    managementUrl,
    process: proc,
    setTxt: (name, value) => post('/set-txt', { host: fqdn(name), value }),
    clearTxt: (name) => post('/clear-txt', { host: fqdn(name) }),
    addA: (name, addresses) => post('/add-a', { host: fqdn(name), addresses }),
    clearA: (name) => post('/clear-a', { host: fqdn(name) }),
    stop: async () => {
      await proc.stop();
    },
  };
}

/** Starts a private pebble-challtestsrv on fresh loopback ports (retries if a port was taken meanwhile). */
export async function startChallTestSrv(): Promise<ChallTestSrv> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      const busy = error instanceof Error && /address already in use/i.test(error.message);
      if (!busy || attempt >= 3) throw error;
    }
  }
}

let shared: Promise<ChallTestSrv> | undefined;

/**
 * One challtestsrv per test process, started on first use and killed at exit by the process registry.
 * Tests sharing it should use distinct names for TXT records.
 */
export function sharedChallTestSrv(): Promise<ChallTestSrv> {
  const current = shared;
  if (current) {
    return current.then((srv) => {
      if (!srv.process.exitInfo) return srv;
      if (shared === current) shared = undefined;
      return sharedChallTestSrv();
    });
  }
  const started = startChallTestSrv();
  shared = started;
  started.catch(() => {
    if (shared === started) shared = undefined;
  });
  return started;
}
