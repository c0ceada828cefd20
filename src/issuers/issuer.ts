// What an issuer is: something that turns a set of names into a certificate. ACME is one; an embedded
// CA will be another. The manager tries issuers in order and stores what comes back.
import type { KeyObject } from 'node:crypto';
import type { CertificateInfo } from '../crypto/certificate.js';
import type { KeyType } from '../crypto/keys.js';
import type { ChallengeType } from '../solvers/solver.js';

export interface IssueRequest {
  /** Normalized names (see acme/identifiers.ts); the first is the primary name. */
  readonly names: readonly string[];
  readonly keyType?: KeyType;
  /** Reuse this key instead of making a fresh one (key pinning setups ask for it). */
  readonly privateKey?: KeyObject;
}

export interface IssuedCertificate {
  readonly names: readonly string[];
  readonly privateKey: KeyObject;
  /** The leaf certificate, PEM. */
  readonly certificatePem: string;
  /** The intermediates, PEM, leaf excluded (may be empty for a CA that signs with its root). */
  readonly chainPem: string;
  /** Leaf then intermediates, what a TLS server sends. */
  readonly fullchainPem: string;
  readonly info: CertificateInfo;
  /** Where the CA keeps it (ACME certificate URL), for revocation and renewal info. */
  readonly url?: string;
}

export interface Issuer {
  /** Storage namespace of this issuer's accounts and certificates. */
  readonly id: string;
  issue(request: IssueRequest, signal: AbortSignal): Promise<IssuedCertificate>;
}

/** Progress of one issuance, for terminals and logs. */
export type IssueProgress =
  | { readonly step: 'account'; readonly url: string; readonly created: boolean }
  | { readonly step: 'order'; readonly url: string; readonly names: readonly string[] }
  | { readonly step: 'authorization'; readonly domain: string; readonly state: 'already-valid' }
  | {
      readonly step: 'authorization';
      readonly domain: string;
      readonly state: 'presenting' | 'validating' | 'valid';
      readonly challenge: ChallengeType;
    }
  | { readonly step: 'finalize'; readonly url: string }
  | { readonly step: 'download'; readonly url: string; readonly alternates: number }
  | { readonly step: 'issued'; readonly names: readonly string[]; readonly notAfter: Date };
