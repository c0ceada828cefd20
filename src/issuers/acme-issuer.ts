// The ACME issuer: one CA directory, one account (kept in storage), the solvers to prove names with,
// and the policy choices the plain client leaves open — key type, chain preference, account recovery.
import type { KeyObject } from 'node:crypto';
import { AcmeClient, orderProblem, type PollingPolicy, type RevocationReason } from '../acme/client.js';
import type { FetchLike, RetryPolicy } from '../acme/http.js';
import { normalizeDomains } from '../acme/identifiers.js';
import type { ExternalAccountBinding } from '../acme/jws.js';
import type { Order } from '../acme/resources.js';
import { certificateDer, chainIssuerNames, parseCertificate, splitPemChain } from '../crypto/certificate.js';
import { createCsr } from '../crypto/csr.js';
import { DEFAULT_KEY_TYPE, generatePrivateKey, type KeyType } from '../crypto/keys.js';
import { AcmeProtocolError } from '../errors.js';
import type { ChallengeSolver, ChallengeType } from '../solvers/solver.js';
import { accountNameFor, issuerIdFromDirectoryUrl } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import { AcmeAccountStore, ensureRegistered, isUnknownAccount } from './acme-account.js';
import { solveAuthorizations } from './authorizations.js';
import type { IssuedCertificate, IssueProgress, IssueRequest, Issuer } from './issuer.js';

export interface AcmeIssuerOptions {
  readonly directoryUrl: string;
  readonly storage: Storage;
  /** Email addresses (`mailto:` is added) or contact URLs. */
  readonly contact?: readonly string[];
  readonly externalAccountBinding?: ExternalAccountBinding;
  /** Solvers in order of preference; the first type the CA offers for a name is used. */
  readonly solvers: readonly ChallengeSolver[];
  readonly keyType?: KeyType;
  /** Issuer common name of a chain to prefer among those the CA offers (e.g. "ISRG Root X1"). */
  readonly preferredChain?: string;
  readonly fetch?: FetchLike;
  readonly clock?: Clock;
  readonly retry?: Partial<RetryPolicy>;
  readonly polling?: Partial<PollingPolicy>;
  readonly userAgent?: string;
  readonly onProgress?: (progress: IssueProgress) => void;
}

export class AcmeIssuer implements Issuer {
  readonly id: string;
  readonly #options: AcmeIssuerOptions;
  readonly #accounts: AcmeAccountStore;
  #client: Promise<AcmeClient> | undefined;
  /** Per name, the challenge type that failed last: the next order prefers another one. */
  readonly #lastFailed = new Map<string, ChallengeType>();

  constructor(options: AcmeIssuerOptions) {
    if (options.solvers.length === 0)
      throw new TypeError('an ACME issuer needs at least one challenge solver');
    this.#options = options;
    this.id = issuerIdFromDirectoryUrl(options.directoryUrl);
    this.#accounts = new AcmeAccountStore(
      options.storage,
      this.id,
      accountNameFor([...(options.contact ?? [])]),
    );
  }

  async issue(request: IssueRequest, signal: AbortSignal): Promise<IssuedCertificate> {
    const names = normalizeDomains(request.names);
    const progress = this.#options.onProgress ?? (() => {});
    let client = await this.#registeredClient(signal);
    let order: Order;
    try {
      order = await client.newOrder(names, signal);
    } catch (error) {
      if (!isUnknownAccount(error)) throw error;
      // The CA no longer knows the stored account URL: find the key's account or register anew.
      client = await this.#registeredClient(signal, { forgetStoredUrl: true });
      order = await client.newOrder(names, signal);
    }
    progress({ step: 'order', url: order.url, names });

    if (order.status === 'pending') {
      await solveAuthorizations(
        { client, solvers: this.#options.solvers, onProgress: progress, lastFailed: this.#lastFailed },
        order.authorizations,
        signal,
      );
      order = await client.waitForOrder(order.url, signal);
    }
    if (order.status !== 'ready' && order.status !== 'valid')
      throw orderProblem(order, 'proving control of the names');

    const privateKey =
      request.privateKey ?? generatePrivateKey(request.keyType ?? this.#options.keyType ?? DEFAULT_KEY_TYPE);
    if (order.status === 'ready') {
      progress({ step: 'finalize', url: order.finalize });
      order = await client.finalizeOrder(order, await createCsr(privateKey, names), signal);
    }
    const certificateUrl = order.certificate;
    if (!certificateUrl) throw new AcmeProtocolError(`the valid order ${order.url} names no certificate URL`);

    const chainPem = await this.#downloadPreferredChain(client, certificateUrl, signal, progress);
    const issued = assembleCertificate(names, privateKey, chainPem, certificateUrl);
    progress({ step: 'issued', names, notAfter: issued.info.notAfter });
    return issued;
  }

  /**
   * Revokes a certificate (RFC 8555 section 7.6), e.g. after a key compromise: signed by this account,
   * or by the certificate's own key when the CA no longer knows the account.
   */
  async revoke(
    certificate: { certificatePem: string; privateKey: KeyObject },
    reason: RevocationReason,
    signal: AbortSignal,
  ): Promise<void> {
    const der = certificateDer(certificate.certificatePem);
    const client = await this.#registeredClient(signal);
    try {
      await client.revokeCertificate(der, reason, signal);
    } catch (error) {
      if (!isUnknownAccount(error)) throw error;
      await client.revokeCertificate(der, reason, signal, certificate.privateKey);
    }
  }

  /** A client acting for a registered account, made once and shared by concurrent issuances. */
  #registeredClient(signal: AbortSignal, options: { forgetStoredUrl?: boolean } = {}): Promise<AcmeClient> {
    if (!this.#client || options.forgetStoredUrl) {
      const pending = this.#openAccount(signal, options.forgetStoredUrl === true);
      this.#client = pending;
      pending.catch(() => {
        if (this.#client === pending) this.#client = undefined;
      });
    }
    return this.#client;
  }

  async #openAccount(signal: AbortSignal, forgetStoredUrl: boolean): Promise<AcmeClient> {
    const stored = await this.#accounts.load(signal);
    const accountUrl = forgetStoredUrl ? undefined : stored.registration?.url;
    const client = new AcmeClient({
      directoryUrl: this.#options.directoryUrl,
      accountKey: stored.key,
      ...(accountUrl ? { accountUrl } : {}),
      ...pick(this.#options, ['fetch', 'clock', 'retry', 'polling', 'userAgent']),
    });
    const created = await ensureRegistered(
      client,
      this.#accounts,
      {
        ...(this.#options.contact ? { contact: this.#options.contact } : {}),
        ...(this.#options.externalAccountBinding
          ? { externalAccountBinding: this.#options.externalAccountBinding }
          : {}),
        termsOfServiceAgreed: true,
        keyIsNew: stored.keyIsNew,
      },
      signal,
    );
    this.#options.onProgress?.({ step: 'account', url: client.accountUrl ?? '', created });
    return client;
  }

  async #downloadPreferredChain(
    client: AcmeClient,
    url: string,
    signal: AbortSignal,
    progress: (p: IssueProgress) => void,
  ): Promise<string> {
    const primary = await client.downloadCertificate(url, signal);
    progress({ step: 'download', url, alternates: primary.alternates.length });
    const preferred = this.#options.preferredChain?.toLowerCase();
    if (!preferred || chainIssuedBy(primary.pem, preferred)) return primary.pem;
    for (const alternate of primary.alternates) {
      const chain = await client.downloadCertificate(alternate, signal);
      if (chainIssuedBy(chain.pem, preferred)) return chain.pem;
    }
    return primary.pem; // No chain matches: the CA's default is still a valid chain.
  }
}

function chainIssuedBy(chainPem: string, issuerName: string): boolean {
  return chainIssuerNames(chainPem).some((name) => name.toLowerCase() === issuerName);
}

function assembleCertificate(
  names: readonly string[],
  privateKey: KeyObject,
  chainPem: string,
  url: string,
): IssuedCertificate {
  const [leaf, ...intermediates] = splitPemChain(chainPem);
  if (!leaf) throw new AcmeProtocolError(`${url} returned no certificate`);
  return {
    names,
    privateKey,
    certificatePem: leaf,
    chainPem: intermediates.join(''),
    fullchainPem: [leaf, ...intermediates].join(''),
    info: parseCertificate(leaf),
    url,
  };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
