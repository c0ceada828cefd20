// The ACME resources of RFC 8555 section 7.1 as the client sees them. Each carries the URL it lives at
// (from Location, or the URL it was fetched from), since later requests need it.
import type { ProblemDocument } from '../errors.js';

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange: string;
  newAuthz?: string;
  renewalInfo?: string;
  meta?: {
    termsOfService?: string;
    website?: string;
    caaIdentities?: string[];
    externalAccountRequired?: boolean;
  };
}

export interface Identifier {
  type: 'dns' | 'ip';
  value: string;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';

export interface Account {
  readonly url: string;
  status: AccountStatus;
  contact?: string[];
  orders?: string;
}

export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';

export interface Order {
  readonly url: string;
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: ProblemDocument;
}

export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';

export interface Authorization {
  readonly url: string;
  status: AuthorizationStatus;
  identifier: Identifier;
  wildcard?: boolean;
  expires?: string;
  challenges: Challenge[];
}

export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

export interface Challenge {
  type: string;
  url: string;
  status: ChallengeStatus;
  token?: string;
  validated?: string;
  error?: ProblemDocument;
}

/** A downloaded certificate chain (PEM, leaf first) and the URLs of alternative chains the CA offers. */
export interface CertificateChain {
  readonly pem: string;
  readonly alternates: string[];
}
