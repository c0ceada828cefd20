// The vocabulary of the certificate manager: what callers hand it (specs), what it reports (typed events,
// status). Kept apart from the manager so listeners, the daemon and the CLI can speak it cheaply.
import type { KeyType } from '../crypto/keys.js';
import type { Issuer } from '../issuers/issuer.js';
import type { Storage } from '../storage/storage.js';
import type { StoredCertificate } from './certificate-store.js';

export interface ManagedCertificateSpec {
  /** Stable id for status, logs and `renew`, e.g. the ACME provider id. */
  readonly id: string;
  /** Normalized names; the first is primary. */
  readonly names: readonly string[];
  readonly issuer: Issuer;
  readonly renewBeforeMs: number;
  readonly keyType?: KeyType;
  /** Keep the private key across renewals (for key pinning, TLSA 3 1 1 records); default a fresh key. */
  readonly reuseKey?: boolean;
  /** This certificate also answers clients that send no SNI (or an unknown name, if so configured). */
  readonly isDefault?: boolean;
  /** Where this certificate lives, when not in the manager's default storage (e.g. a provider's cache). */
  readonly storage?: Storage;
  /** Runs after each new certificate is stored (export, reload hooks); its failure is reported, not fatal. */
  readonly afterObtained?: (certificate: StoredCertificate, signal: AbortSignal) => Promise<void>;
}

export interface StaticCertificateSpec {
  readonly id: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** Names it answers; default: the certificate's own DNS names. */
  readonly names?: readonly string[];
  readonly isDefault?: boolean;
}

export type ObtainReason = 'missing' | 'due' | 'forced';

export interface ManagerEvents {
  [name: string]: unknown;
  obtaining: { id: string; names: readonly string[]; reason: ObtainReason };
  obtained: { id: string; names: readonly string[]; serialNumber: string; notAfter: Date; issuerId: string };
  'renewal-failed': {
    id: string;
    names: readonly string[];
    error: Error;
    failures: number;
    nextAttemptAt: Date;
    /** True when the certificate still served has already expired. */
    expired: boolean;
    /** True when no certificate is served for these names at all. */
    missing: boolean;
  };
  'certificate-installed': {
    id: string;
    names: readonly string[];
    serialNumber: string;
    notAfter: Date;
    /** `storage`: found in the cache (at start or on demand); `issued`: just obtained. */
    source: 'storage' | 'issued';
  };
  'hook-failed': { id: string; names: readonly string[]; error: Error };
  /** The next attempt of a certificate was (re)computed: after start, each attempt and each change. */
  scheduled: { id: string; names: readonly string[]; nextAttemptAt: Date; afterAttempt: boolean };
}

export interface CertificateStatus {
  readonly id: string;
  readonly names: readonly string[];
  readonly managed: boolean;
  readonly issuer: string | undefined;
  readonly serialNumber: string | undefined;
  readonly notAfter: Date | undefined;
  readonly nextAttemptAt: Date | undefined;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly obtaining: boolean;
}
