// Exporting certificates as PEM files for servers that read files (Postfix, Dovecot, nginx):
// fullchain.pem and privkey.pem in a folder named from a template, written atomically after each new
// certificate. The key is 0600 (0640 when a group is given, so a service group can read it).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { privateKeyToPem } from '../crypto/keys.js';
import type { StoredCertificate } from '../manager/certificate-store.js';
import { safeName } from '../storage/keys.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export interface ExportSettings {
  /** Folder path; `%{name}%` becomes the certificate's primary name (`*` as `_wildcard`). */
  readonly folder: string;
  readonly uid?: number;
  readonly gid?: number;
}

export interface ExportedFiles {
  readonly folder: string;
  readonly fullchain: string;
  readonly privateKey: string;
  readonly certificate: string;
  readonly chain: string;
}

export function exportFolder(template: string, primaryName: string): string {
  return template.replace(/%\{name\}%/gi, safeName(primaryName));
}

export async function exportCertificate(
  stored: StoredCertificate,
  settings: ExportSettings,
): Promise<ExportedFiles> {
  const folder = exportFolder(settings.folder, stored.names[0] ?? '');
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const owner = {
    ...(settings.uid !== undefined ? { uid: settings.uid } : {}),
    ...(settings.gid !== undefined ? { gid: settings.gid } : {}),
  };
  const files: ExportedFiles = {
    folder,
    fullchain: join(folder, 'fullchain.pem'),
    privateKey: join(folder, 'privkey.pem'),
    certificate: join(folder, 'cert.pem'),
    chain: join(folder, 'chain.pem'),
  };
  // Certificates first, the key last: a reader that sees the new key also finds its certificate.
  await writeFileAtomic(files.certificate, stored.certificatePem, { mode: 0o644, ...owner });
  await writeFileAtomic(files.chain, stored.chainPem, { mode: 0o644, ...owner });
  await writeFileAtomic(files.fullchain, stored.fullchainPem, { mode: 0o644, ...owner });
  await writeFileAtomic(files.privateKey, privateKeyToPem(stored.privateKey), {
    mode: settings.gid !== undefined ? 0o640 : 0o600,
    ...owner,
  });
  return files;
}
