// What happens after a provider obtains a certificate, beyond serving it: the PEM export folder and the
// reload hook. Shared by the daemon and `tlsward renew`, so a manual renewal reaches the same files.
import { join } from 'node:path';
import type { ManagedCertificateSpec } from '../manager/certificate-manager.js';
import type { StoredCertificate } from '../manager/certificate-store.js';
import { FileStorage } from '../storage/fs.js';
import { exportCertificate } from './export.js';
import { runHook } from './hooks.js';
import type { Logger } from './logger.js';
import type { Provider } from './providers.js';

/** The manager's view of a provider: its names, issuer, storage and the delivery after each issuance. */
export function managedSpec(provider: Provider, log: Logger): ManagedCertificateSpec {
  const { config } = provider;
  return {
    id: config.id,
    names: config.domains,
    issuer: provider.issuer,
    renewBeforeMs: config.renewBeforeMs,
    keyType: config.keyType,
    reuseKey: config.reuseKey,
    isDefault: config.default,
    storage: provider.storage,
    afterObtained: (stored) => deliverCertificate(provider, stored, log),
  };
}

/** Exports the files (when configured), then runs the reload hook with their paths in its environment. */
export async function deliverCertificate(
  provider: Provider,
  stored: StoredCertificate,
  log: Logger,
): Promise<void> {
  const { exportPath, exportOwner, onRenew, id } = provider.config;
  const inCache = (key: string) =>
    provider.storage instanceof FileStorage ? join(provider.storage.root, key) : key;
  let files = {
    certificate: inCache(stored.keys.certificate),
    chain: inCache(stored.keys.chain),
    fullchain: inCache(stored.keys.fullchain),
    privateKey: inCache(stored.keys.privateKey),
  };
  if (exportPath) {
    files = await exportCertificate(stored, {
      folder: exportPath,
      ...(exportOwner.uid !== undefined ? { uid: exportOwner.uid } : {}),
      ...(exportOwner.gid !== undefined ? { gid: exportOwner.gid } : {}),
    });
    log.info({ provider: id, fullchain: files.fullchain }, 'certificate exported');
  }
  if (onRenew) {
    await runHook(onRenew, {
      TLSWARD_PROVIDER: id,
      TLSWARD_DOMAINS: stored.names.join(' '),
      TLSWARD_CERTIFICATE: files.certificate,
      TLSWARD_CHAIN: files.chain,
      TLSWARD_FULLCHAIN: files.fullchain,
      TLSWARD_PRIVATE_KEY: files.privateKey,
      TLSWARD_NOT_AFTER: stored.info.notAfter.toISOString(),
      TLSWARD_SERIAL: stored.info.serialNumber,
    });
    log.info({ provider: id, command: onRenew[0] }, 'reload hook ran');
  }
}
