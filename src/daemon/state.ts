// What the running daemon knows beyond the certificate files — the next attempt and the last error of
// each certificate — kept in the provider's storage so that `tlsward status` (another process) shows it.
import type { CertificateStatus } from '../manager/certificate-manager.js';
import { certificateStateKey } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';

export interface SavedCertificateState {
  readonly id: string;
  readonly nextAttemptAt: string | undefined;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly updatedAt: string;
}

export async function saveCertificateState(
  storage: Storage,
  id: string,
  status: CertificateStatus,
): Promise<void> {
  const state: SavedCertificateState = {
    id,
    nextAttemptAt: status.nextAttemptAt?.toISOString(),
    failures: status.failures,
    lastError: status.lastError,
    updatedAt: new Date().toISOString(),
  };
  await storage.put(certificateStateKey(id), Buffer.from(`${JSON.stringify(state, null, 2)}\n`));
}

export async function loadCertificateState(
  storage: Storage,
  id: string,
): Promise<SavedCertificateState | undefined> {
  const bytes = await storage.get(certificateStateKey(id));
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as SavedCertificateState;
  } catch {
    return undefined;
  }
}
