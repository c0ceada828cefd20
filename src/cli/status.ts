// `tlsward status --config FILE [--json]`: every certificate of the configuration as the cache holds it,
// with what the daemon last recorded (next attempt, last error). Reads only; needs no running daemon.
import { parseCertificate } from '../crypto/certificate.js';
import type { DaemonConfig } from '../daemon/config/model.js';
import { DEFAULT_CACHE } from '../daemon/daemon.js';
import { loadCertificateState } from '../daemon/state.js';
import { CertificateStore } from '../manager/certificate-store.js';
import { renewalDueAt } from '../manager/renewal-policy.js';
import { FileStorage } from '../storage/fs.js';
import { issuerIdFromDirectoryUrl } from '../storage/keys.js';
import { loadConfigForCommand } from './config-file.js';
import { EXIT_OK } from './exit-codes.js';
import type { Terminal } from './terminal.js';

export interface StatusRow {
  id: string;
  kind: 'acme' | 'static';
  names: readonly string[];
  issuer: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  nextAttempt: string | null;
  lastError: string | null;
}

export async function runStatus(
  options: { config: string; cache?: string; json?: boolean },
  terminal: Terminal,
) {
  const config = await loadConfigForCommand(options.config, terminal);
  const rows = await collectStatus(config, options.cache ?? DEFAULT_CACHE);
  if (options.json) terminal.out(`${JSON.stringify(rows)}\n`);
  else terminal.out(formatTable(rows));
  return EXIT_OK;
}

export async function collectStatus(config: DaemonConfig, defaultCache: string): Promise<StatusRow[]> {
  const rows: StatusRow[] = [];
  const signal = AbortSignal.timeout(30_000);
  for (const provider of config.acme.values()) {
    const storage = new FileStorage({ root: provider.cache ?? defaultCache });
    const stored = await new CertificateStore(storage).load(
      issuerIdFromDirectoryUrl(provider.directory),
      provider.domains,
      signal,
    );
    const state = await loadCertificateState(storage, provider.id);
    rows.push({
      id: provider.id,
      kind: 'acme',
      names: provider.domains,
      issuer: stored ? (stored.info.issuerCommonName ?? stored.info.issuer) : null,
      notAfter: stored?.info.notAfter.toISOString() ?? null,
      daysLeft: stored ? daysLeft(stored.info.notAfter) : null,
      // Recorded by the daemon after an attempt; otherwise when the stored certificate falls due.
      nextAttempt:
        state?.nextAttemptAt ??
        (stored
          ? renewalDueAt(
              stored.info.notBefore,
              stored.info.notAfter,
              provider.renewBeforeMs,
              () => 0,
            ).toISOString()
          : null),
      lastError: state?.lastError ?? null,
    });
  }
  for (const certificate of config.certificates.values()) {
    const info = parseCertificate(certificate.cert);
    rows.push({
      id: certificate.id,
      kind: 'static',
      names: certificate.subjects,
      issuer: info.issuerCommonName ?? info.issuer,
      notAfter: info.notAfter.toISOString(),
      daysLeft: daysLeft(info.notAfter),
      nextAttempt: null,
      lastError: null,
    });
  }
  return rows;
}

function daysLeft(notAfter: Date): number {
  return Math.floor((notAfter.getTime() - Date.now()) / 86_400_000);
}

function formatTable(rows: StatusRow[]): string {
  const header = ['ID', 'NAMES', 'ISSUER', 'EXPIRES', 'DAYS', 'NEXT ATTEMPT', 'LAST ERROR'];
  const body = rows.map((row) => [
    row.kind === 'static' ? `${row.id} (static)` : row.id,
    row.names.join(','),
    row.issuer ?? '-',
    row.notAfter?.slice(0, 16).replace('T', ' ') ?? 'none yet',
    row.daysLeft === null ? '-' : String(row.daysLeft),
    row.nextAttempt?.slice(0, 16).replace('T', ' ') ?? '-',
    row.lastError ? row.lastError.split('\n')[0]!.slice(0, 80) : '-',
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]!.length)),
  );
  const line = (cells: string[]) =>
    `${cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return [line(header), ...body.map(line)].join('');
}
