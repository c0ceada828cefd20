// Obtaining one certificate the way a cluster needs it: under the storage lock for its names, checking
// storage again inside the lock (another node may have just renewed it), and storing the result before
// the lock is released.

import { certificateName, issueLockName } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { CertificateStore, StoredCertificate } from './certificate-store.js';
import { renewalDueAt } from './renewal-policy.js';
import type { ManagedCertificateSpec, ObtainReason } from './types.js';

export interface ObtainRequest {
  readonly spec: ManagedCertificateSpec;
  readonly reason: ObtainReason;
  readonly storage: Storage;
  readonly store: CertificateStore;
  /** Serial of the certificate this node serves now; a different one in storage is someone else's work. */
  readonly installedSerial: string | undefined;
  readonly lockTtlMs: number;
  readonly now: number;
}

/** The certificate to serve: a newer one another node stored (when not forced and not due), or a new one. */
export async function obtainUnderLock(
  request: ObtainRequest,
  signal: AbortSignal,
): Promise<StoredCertificate> {
  const { spec, store } = request;
  const lock = await request.storage.lock(issueLockName(certificateName([...spec.names])), {
    signal,
    ttlMs: request.lockTtlMs,
  });
  try {
    const current = await store.load(spec.issuer.id, spec.names, signal);
    if (current && current.info.serialNumber !== request.installedSerial && request.reason !== 'forced') {
      const due = renewalDueAt(current.info.notBefore, current.info.notAfter, spec.renewBeforeMs, () => 0);
      if (due.getTime() > request.now) return current;
    }
    const issued = await spec.issuer.issue(
      {
        names: spec.names,
        ...(spec.keyType ? { keyType: spec.keyType } : {}),
        ...(spec.reuseKey && current ? { privateKey: current.privateKey } : {}),
      },
      AbortSignal.any([signal, lock.lost]),
    );
    return await store.save(spec.issuer.id, issued, signal);
  } finally {
    await lock.release();
  }
}
