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
export {
  CertificateManager,
  type CertificateManagerOptions,
  type CertificateStatus,
  type ManagedCertificateSpec,
  type ManagerEvents,
} from './manager/certificate-manager.js';
export { CertificateStore, type StoredCertificate } from './manager/certificate-store.js';
export { createSharedTlsListener, type SharedTlsListener } from './server/alpn-tls-server.js';
export {
  createHttpChallengeHandler,
  createHttpChallengeServer,
  type HttpChallengeHandler,
} from './server/http-challenge.js';
export type { DnsProvider, TxtRecord } from './solvers/dns/provider.js';
export { Rfc2136Provider, type Rfc2136ProviderOptions } from './solvers/dns/rfc2136.js';
export { Dns01Solver, type Dns01SolverOptions } from './solvers/dns-01.js';
export { Http01Solver, HttpChallenges } from './solvers/http-01.js';
export type { ChallengeSolver, ChallengeType, PendingChallenge } from './solvers/solver.js';
export { TlsAlpn01Solver, TlsAlpnChallenges } from './solvers/tls-alpn-01.js';
export { FileStorage } from './storage/fs.js';
export { MemoryStorage } from './storage/memory.js';
export type { Lock, Storage } from './storage/storage.js';
export type { Clock } from './util/clock.js';
