// The public API of the tlsward library.
export {
  AcmeClient,
  type AcmeClientOptions,
  type NewAccountOptions,
  type PollingPolicy,
} from './acme/client.js';
export { nodeFetch } from './acme/fetch.js';
export type { FetchLike, RetryPolicy } from './acme/http.js';
export { normalizeDomain, normalizeDomains } from './acme/identifiers.js';
export type { ExternalAccountBinding } from './acme/jws.js';
export { type CertificateInfo, parseCertificate, splitPemChain } from './crypto/certificate.js';
export { KEY_TYPES, type KeyType } from './crypto/keys.js';
export * from './errors.js';
export { AcmeIssuer, type AcmeIssuerOptions } from './issuers/acme-issuer.js';
export type { IssuedCertificate, IssueProgress, IssueRequest, Issuer } from './issuers/issuer.js';
export { CertificateStore, type StoredCertificate } from './manager/certificate-store.js';
export { createSharedTlsListener, type SharedTlsListener } from './server/alpn-tls-server.js';
export type { ChallengeSolver, ChallengeType, PendingChallenge } from './solvers/solver.js';
export { TlsAlpn01Solver, TlsAlpnChallenges } from './solvers/tls-alpn-01.js';
export { FileStorage } from './storage/fs.js';
export type { Lock, Storage } from './storage/storage.js';
export type { Clock } from './util/clock.js';
