// From `[acme."<id>"]` to a working issuer: its storage (the `cache` folder), its trust (`ca-file`), and
// its solvers in order of preference — each backed by the challenge registries every listener shares,
// and by an on-demand responder where no listener serves the challenge port.
import { readFile } from 'node:fs/promises';
import { nodeFetch } from '../acme/fetch.js';
import { AcmeIssuer } from '../issuers/acme-issuer.js';
import { CloudflareProvider } from '../solvers/dns/cloudflare.js';
import { ExecProvider } from '../solvers/dns/exec.js';
import type { DnsProvider } from '../solvers/dns/provider.js';
import { Rfc2136Provider } from '../solvers/dns/rfc2136.js';
import { Dns01Solver } from '../solvers/dns-01.js';
import { Http01Solver, type HttpChallenges } from '../solvers/http-01.js';
import type { ChallengeSolver } from '../solvers/solver.js';
import { TlsAlpn01Solver, type TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import type { Storage } from '../storage/storage.js';
import { formatHostPort } from './config/addresses.js';
import type { AcmeProviderConfig, ChallengeConfig, DnsProviderConfig } from './config/model.js';
import type { Logger } from './logger.js';
import { type OnDemandPort, withOnDemandPort } from './on-demand-port.js';

export interface ProviderDependencies {
  readonly tlsAlpn: TlsAlpnChallenges;
  readonly http: HttpChallenges;
  readonly storageFor: (cache: string | undefined) => Storage;
  /** The responder to open for a challenge port no listener binds; undefined when one does. */
  readonly onDemandPort: (type: 'tls-alpn-01' | 'http-01', port: number) => OnDemandPort | undefined;
  readonly logger: Logger;
}

export interface Provider {
  readonly config: AcmeProviderConfig;
  readonly issuer: AcmeIssuer;
  readonly storage: Storage;
}

export async function buildProvider(
  config: AcmeProviderConfig,
  deps: ProviderDependencies,
): Promise<Provider> {
  const log = deps.logger.child({ provider: config.id });
  const storage = deps.storageFor(config.cache);
  const fetch = config.caFile ? nodeFetch({ ca: await readFile(config.caFile, 'utf8') }) : undefined;
  const issuer = new AcmeIssuer({
    directoryUrl: config.directory,
    storage,
    contact: config.contact,
    ...(config.eab ? { externalAccountBinding: config.eab } : {}),
    solvers: config.challenges.map((challenge) => solverFor(challenge, deps)),
    keyType: config.keyType,
    ...(config.preferredChain ? { preferredChain: config.preferredChain } : {}),
    ...(fetch ? { fetch } : {}),
    onProgress: (progress) => {
      if (progress.step === 'authorization' && progress.state === 'valid') {
        log.info({ domain: progress.domain, challenge: progress.challenge }, 'name proven');
      } else if (progress.step === 'authorization' && progress.state !== 'already-valid') {
        log.debug(
          { domain: progress.domain, challenge: progress.challenge, state: progress.state },
          'authorization',
        );
      } else if (progress.step === 'account' && progress.created) {
        log.info({ account: progress.url }, 'ACME account registered');
      } else if (progress.step === 'order') {
        log.debug({ order: progress.url, names: progress.names }, 'order created');
      }
    },
  });
  return { config, issuer, storage };
}

function solverFor(challenge: ChallengeConfig, deps: ProviderDependencies): ChallengeSolver {
  switch (challenge.type) {
    case 'tls-alpn-01': {
      const solver = new TlsAlpn01Solver(deps.tlsAlpn);
      const port = deps.onDemandPort('tls-alpn-01', challenge.port);
      return port ? withOnDemandPort(solver, port) : solver;
    }
    case 'http-01': {
      const solver = new Http01Solver(deps.http);
      const port = deps.onDemandPort('http-01', challenge.port);
      return port ? withOnDemandPort(solver, port) : solver;
    }
    case 'dns-01': {
      const dns = challenge.dns;
      return new Dns01Solver({
        provider: dnsProvider(dns),
        pollingIntervalMs: dns.pollingIntervalMs,
        propagationTimeoutMs: dns.propagationTimeoutMs,
        ...(dns.resolvers ? { resolvers: dns.resolvers.map(formatHostPort) } : {}),
        ...(dns.nameservers ? { checkServers: dns.nameservers.map(formatHostPort) } : {}),
      });
    }
  }
}

function dnsProvider(dns: DnsProviderConfig): DnsProvider {
  switch (dns.provider) {
    case 'rfc2136-tsig':
      return new Rfc2136Provider({
        host: dns.host,
        port: dns.port,
        protocol: dns.protocol,
        keyName: dns.keyName,
        secret: dns.secret,
        algorithm: dns.tsigAlgorithm,
        ...(dns.origin ? { origin: dns.origin } : {}),
      });
    case 'exec':
      return new ExecProvider({ command: dns.command });
    case 'cloudflare':
      return new CloudflareProvider({ token: dns.secret });
  }
}
