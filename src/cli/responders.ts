// How `tlsward issue` answers the chosen challenge: a TLS-ALPN-01 or HTTP-01 responder listening for the
// duration of the order, or DNS-01 records written with RFC 2136 updates (no listener at all).
import { readFile } from 'node:fs/promises';
import { createSharedTlsListener } from '../server/alpn-tls-server.js';
import { createHttpChallengeServer } from '../server/http-challenge.js';
import { type Listenable, listenAllInterfaces } from '../server/listen.js';
import { Rfc2136Provider } from '../solvers/dns/rfc2136.js';
import { Dns01Solver } from '../solvers/dns-01.js';
import { Http01Solver, HttpChallenges } from '../solvers/http-01.js';
import type { ChallengeSolver, ChallengeType } from '../solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import { UsageError } from './exit-codes.js';

export interface ResponderOptions {
  challenge: ChallengeType;
  /** Default: the port the CA connects to for the challenge type. */
  port?: number;
  listen?: string;
  dnsServer?: string;
  dnsZone?: string;
  dnsResolver?: string[];
  dnsNameserver?: string[];
  tsigKey?: string;
  tsigAlgorithm?: string;
  tsigSecretFile?: string;
}

export interface Responder {
  readonly solver: ChallengeSolver;
  /** Starts answering; returns a line describing where, for the terminal. */
  start(): Promise<string>;
  close(): Promise<void>;
}

export async function createResponder(options: ResponderOptions): Promise<Responder> {
  switch (options.challenge) {
    case 'http-01': {
      const tokens = new HttpChallenges();
      const server = createHttpChallengeServer({ challenges: tokens, otherRequests: 'not-found' });
      return listening(new Http01Solver(tokens), server, options.port ?? 80, options.listen, 'http-01');
    }
    case 'tls-alpn-01': {
      const names = new TlsAlpnChallenges();
      const listener = createSharedTlsListener({ challenges: names });
      return listening(
        new TlsAlpn01Solver(names),
        listener,
        options.port ?? 443,
        options.listen,
        'tls-alpn-01',
      );
    }
    case 'dns-01':
      return dnsResponder(options);
  }
}

function listening(
  solver: ChallengeSolver,
  server: Listenable,
  port: number,
  host: string | undefined,
  type: string,
): Responder {
  return {
    solver,
    async start() {
      try {
        const bound =
          host === undefined ? await listenAllInterfaces(server, port) : await server.listen(port, host);
        const where = bound.address.includes(':')
          ? `[${bound.address}]:${bound.port}`
          : `${bound.address}:${bound.port}`;
        return `${type} responder listening on ${where}`;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const hint = code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : '';
        throw new UsageError(
          `cannot listen on port ${port}${host ? ` of ${host}` : ''}: ${code ?? error}${hint}`,
        );
      }
    },
    close: () => server.close(),
  };
}

async function dnsResponder(options: ResponderOptions): Promise<Responder> {
  if (!options.dnsServer)
    throw new UsageError('--challenge dns-01 needs --dns-server HOST[:PORT] (RFC 2136 updates)');
  if (Boolean(options.tsigKey) !== Boolean(options.tsigSecretFile || process.env.TLSWARD_TSIG_SECRET)) {
    throw new UsageError('--tsig-key needs its secret: --tsig-secret-file FILE or TLSWARD_TSIG_SECRET');
  }
  const secret = options.tsigSecretFile
    ? await readSecret(options.tsigSecretFile)
    : process.env.TLSWARD_TSIG_SECRET;
  const server = splitServer(options.dnsServer);
  const provider = new Rfc2136Provider({
    host: server.host,
    port: server.port,
    ...(options.tsigKey && secret ? { keyName: options.tsigKey, secret } : {}),
    ...(options.tsigAlgorithm ? { algorithm: options.tsigAlgorithm } : {}),
    ...(options.dnsZone ? { origin: options.dnsZone } : {}),
  });
  const solver = new Dns01Solver({
    provider,
    ...(options.dnsResolver?.length ? { resolvers: options.dnsResolver } : {}),
    ...(options.dnsNameserver?.length ? { checkServers: options.dnsNameserver } : {}),
  });
  return {
    solver,
    start: async () =>
      `dns-01 records go to ${options.dnsServer} (RFC 2136${options.tsigKey ? ', TSIG' : ''})`,
    close: async () => {},
  };
}

function splitServer(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? 53 : Number(match[3]);
  if (!match || !(port >= 1 && port <= 65535))
    throw new UsageError(`--dns-server ${text}: expected HOST or HOST:PORT`);
  return { host: match[1] ?? match[2] ?? '', port };
}

async function readSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new UsageError(
      `--tsig-secret-file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
