// `tlsward renew --config FILE [--domain NAME] [--force]`: renews now, in this process, the certificates
// that are due (or all selected ones with --force). Challenges are answered by responders opened on the
// configured challenge ports for the duration, so a running `tlsward serve` holding those ports must be
// stopped first (it renews by itself anyway).
import { normalizeDomain } from '../acme/identifiers.js';
import type { DaemonConfig } from '../daemon/config/model.js';
import { DEFAULT_CACHE } from '../daemon/daemon.js';
import { managedSpec } from '../daemon/deliver.js';
import { createLogger } from '../daemon/logger.js';
import { OnDemandPort } from '../daemon/on-demand-port.js';
import { buildProvider } from '../daemon/providers.js';
import { CertificateManager } from '../manager/certificate-manager.js';
import { createSharedTlsListener } from '../server/alpn-tls-server.js';
import { createHttpChallengeServer } from '../server/http-challenge.js';
import { HttpChallenges } from '../solvers/http-01.js';
import { TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import { FileStorage } from '../storage/fs.js';
import { loadConfigForCommand } from './config-file.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './exit-codes.js';
import type { Terminal } from './terminal.js';

export interface RenewCommandOptions {
  config: string;
  cache?: string;
  domain?: string;
  force?: boolean;
}

export async function runRenew(options: RenewCommandOptions, terminal: Terminal): Promise<number> {
  const config = await loadConfigForCommand(options.config, terminal);
  const selected = selectProviders(config, options.domain);
  const tlsAlpn = new TlsAlpnChallenges();
  const http = new HttpChallenges();
  const storages = new Map<string, FileStorage>();
  const storageFor = (cache: string | undefined) => {
    const root = cache ?? options.cache ?? DEFAULT_CACHE;
    if (!storages.has(root)) storages.set(root, new FileStorage({ root }));
    return storages.get(root)!;
  };
  const ports = new Map<string, OnDemandPort>();
  const manager = new CertificateManager({ storage: storageFor(undefined) });
  const logger = createLogger({ level: 'warn' });
  for (const providerConfig of selected) {
    const provider = await buildProvider(providerConfig, {
      tlsAlpn,
      http,
      storageFor,
      logger,
      onDemandPort: (type, port) => {
        const key = `${type}/${port}`;
        if (!ports.has(key)) {
          ports.set(
            key,
            new OnDemandPort(port, () =>
              type === 'http-01'
                ? createHttpChallengeServer({ challenges: http, otherRequests: 'not-found' })
                : createSharedTlsListener({ challenges: tlsAlpn }),
            ),
          );
        }
        return ports.get(key);
      },
    });
    manager.add(managedSpec(provider, logger));
  }
  await manager.loadStored();

  let failed = 0;
  for (const provider of selected) {
    try {
      const renewed = await manager.renew(provider.id, { force: options.force === true });
      terminal.out(
        renewed
          ? `${provider.id}: renewed ${provider.domains.join(', ')}, valid until ${renewed.info.notAfter.toISOString()}\n`
          : `${provider.id}: not due yet (use --force to renew anyway)\n`,
      );
    } catch (error) {
      failed++;
      terminal.err(
        `${provider.id}: renewal failed:\n${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  }
  return failed > 0 ? EXIT_FAILURE : EXIT_OK;
}

function selectProviders(config: DaemonConfig, domain: string | undefined) {
  const all = [...config.acme.values()];
  if (domain === undefined) return all;
  const name = normalizeDomain(domain);
  const matching = all.filter((provider) => provider.domains.includes(name));
  if (matching.length === 0) throw new UsageError(`no [acme] provider in ${config.file} covers ${name}`);
  return matching;
}
