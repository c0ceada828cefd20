// `tlsward revoke`: revokes the stored certificate for a set of names at the CA that issued it (RFC 8555
// section 7.6), signed by the account or, when the CA forgot the account, by the certificate's own key.
import { readFile } from 'node:fs/promises';
import { nodeFetch } from '../acme/fetch.js';
import { normalizeDomains } from '../acme/identifiers.js';
import { InvalidIdentifierError } from '../errors.js';
import { AcmeIssuer } from '../issuers/acme-issuer.js';
import { CertificateStore } from '../manager/certificate-store.js';
import { FileStorage } from '../storage/fs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './exit-codes.js';
import { REVOCATION_REASONS } from './revocation-reasons.js';
import type { Terminal } from './terminal.js';

export { REVOCATION_REASONS } from './revocation-reasons.js';

export interface RevokeCommandOptions {
  directory: string;
  cache: string;
  domain: string[];
  contact: string[];
  reason: string;
  caFile?: string;
}

export async function runRevoke(options: RevokeCommandOptions, terminal: Terminal): Promise<number> {
  const names = namesOf(options.domain);
  const reason = REVOCATION_REASONS[options.reason];
  if (reason === undefined) {
    throw new UsageError(
      `--reason ${options.reason}: expected ${Object.keys(REVOCATION_REASONS).join(', ')}`,
    );
  }
  const storage = new FileStorage({ root: options.cache });
  const fetch = options.caFile ? nodeFetch({ ca: await readFile(options.caFile, 'utf8') }) : undefined;
  const issuer = new AcmeIssuer({
    directoryUrl: options.directory,
    storage,
    contact: options.contact,
    // Revocation proves nothing about names, so no challenge is ever answered.
    solvers: [{ type: 'tls-alpn-01', present: async () => {}, cleanup: async () => {} }],
    ...(fetch ? { fetch } : {}),
  });
  const signal = AbortSignal.timeout(120_000);
  const stored = await new CertificateStore(storage).load(issuer.id, names, signal);
  if (!stored) {
    throw new UsageError(
      `no certificate for ${names.join(', ')} from ${options.directory} in ${options.cache}`,
    );
  }
  try {
    await issuer.revoke(stored, reason, signal);
  } catch (error) {
    terminal.err(
      `tlsward: revoking ${stored.info.serialNumber} failed:\n${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT_FAILURE;
  }
  terminal.out(
    `Revoked certificate ${stored.info.serialNumber} for ${names.join(', ')} (${options.reason}). ` +
      'It is still in the cache: issue a new one to replace it.\n',
  );
  return EXIT_OK;
}

function namesOf(domains: string[]): string[] {
  try {
    return normalizeDomains(domains);
  } catch (error) {
    if (error instanceof InvalidIdentifierError || error instanceof TypeError)
      throw new UsageError(error.message);
    throw error;
  }
}
