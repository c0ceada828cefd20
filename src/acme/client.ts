// The ACME client (RFC 8555): directory, account, order, authorization, challenge, finalize, download,
// revoke. Plumbing only: it holds no storage, opens no listener and decides no policy (which challenge,
// which chain); those belong to the issuer. It is handed a fetch, a clock and an AbortSignal per call.
import type { KeyObject } from 'node:crypto';
import { AcmeProblemError, AcmeProtocolError, TimeoutError } from '../errors.js';
import { parseRetryAfter } from '../util/clock.js';
import { AcmeHttp, type AcmeHttpOptions, type AcmeResponse, linkTargets, parseJson } from './http.js';
import {
  type ExternalAccountBinding,
  type Jwk,
  type KeyIdentification,
  keyAuthorization,
  publicJwk,
  signExternalAccountBinding,
  signJws,
} from './jws.js';
import { NoncePool } from './nonces.js';
import type {
  Account,
  Authorization,
  CertificateChain,
  Challenge,
  Directory,
  Identifier,
  Order,
} from './resources.js';

export interface PollingPolicy {
  /** First wait between polls; a CA that validates in milliseconds must not cost seconds. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Give up on a resource that is still pending/processing after this long. */
  readonly timeoutMs: number;
}

export const DEFAULT_POLLING: PollingPolicy = { initialDelayMs: 10, maxDelayMs: 5_000, timeoutMs: 180_000 };

export interface AcmeClientOptions extends Omit<AcmeHttpOptions, 'onNonce'> {
  readonly directoryUrl: string;
  readonly accountKey: KeyObject;
  /** The account URL (`kid`) when already known, e.g. from storage. */
  readonly accountUrl?: string;
  readonly polling?: Partial<PollingPolicy>;
}

export interface NewAccountOptions {
  /** Email addresses or URLs; `mailto:` is added to bare addresses. */
  readonly contact?: readonly string[];
  readonly termsOfServiceAgreed?: boolean;
  readonly externalAccountBinding?: ExternalAccountBinding;
}

/** The revocation reasons of RFC 5280 section 5.3.1 that a subscriber may give. */
export type RevocationReason = 0 | 1 | 3 | 4 | 5;

export class AcmeClient {
  readonly directoryUrl: string;
  readonly #accountKey: KeyObject;
  readonly #accountJwk: Jwk;
  readonly #http: AcmeHttp;
  readonly #nonces: NoncePool;
  readonly #polling: PollingPolicy;
  #accountUrl: string | undefined;
  #directory: Promise<Directory> | undefined;

  constructor(options: AcmeClientOptions) {
    this.directoryUrl = options.directoryUrl;
    this.#accountKey = options.accountKey;
    this.#accountJwk = publicJwk(options.accountKey);
    this.#accountUrl = options.accountUrl;
    this.#polling = { ...DEFAULT_POLLING, ...options.polling };
    this.#nonces = new NoncePool((signal) => this.#fetchNonce(signal));
    this.#http = new AcmeHttp({ ...options, onNonce: (nonce) => this.#nonces.add(nonce) });
  }

  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  get accountJwk(): Jwk {
    return this.#accountJwk;
  }

  keyAuthorization(token: string): string {
    return keyAuthorization(token, this.#accountJwk);
  }

  /** The directory, fetched once per client. */
  directory(signal: AbortSignal): Promise<Directory> {
    if (!this.#directory) {
      this.#directory = this.#fetchDirectory(signal);
      // A failed fetch must not be cached: the next call tries again.
      this.#directory.catch(() => {
        this.#directory = undefined;
      });
    }
    return this.#directory;
  }

  /** Creates the account for this key, or returns the existing one (the CA answers 200 then). */
  async createAccount(options: NewAccountOptions, signal: AbortSignal): Promise<Account> {
    const directory = await this.directory(signal);
    const payload: Record<string, unknown> = {
      termsOfServiceAgreed: options.termsOfServiceAgreed ?? true,
    };
    if (options.contact?.length) payload.contact = options.contact.map(contactUrl);
    if (options.externalAccountBinding) {
      payload.externalAccountBinding = signExternalAccountBinding(
        options.externalAccountBinding,
        this.#accountJwk,
        directory.newAccount,
      );
    } else if (directory.meta?.externalAccountRequired) {
      throw new TypeError(
        `${this.directoryUrl} requires external account binding: give an EAB key id and HMAC key`,
      );
    }
    return this.#accountRequest(directory.newAccount, payload, signal);
  }

  /** Looks up the account of this key without creating one (onlyReturnExisting); undefined if none. */
  async findAccount(signal: AbortSignal): Promise<Account | undefined> {
    const directory = await this.directory(signal);
    try {
      return await this.#accountRequest(directory.newAccount, { onlyReturnExisting: true }, signal);
    } catch (error) {
      if (error instanceof AcmeProblemError && error.shortType === 'accountDoesNotExist') return undefined;
      throw error;
    }
  }

  async newOrder(domains: readonly string[], signal: AbortSignal): Promise<Order> {
    const directory = await this.directory(signal);
    const identifiers: Identifier[] = domains.map((value) => ({ type: 'dns', value }));
    const response = await this.#post(directory.newOrder, { identifiers }, signal);
    return { ...parseJson<Omit<Order, 'url'>>(response), url: requireLocation(response) };
  }

  async getOrder(url: string, signal: AbortSignal): Promise<Order> {
    return { ...parseJson<Omit<Order, 'url'>>(await this.#post(url, undefined, signal)), url };
  }

  async getAuthorization(url: string, signal: AbortSignal): Promise<Authorization> {
    return { ...parseJson<Omit<Authorization, 'url'>>(await this.#post(url, undefined, signal)), url };
  }

  /** Tells the CA the challenge is ready to be validated (RFC 8555 section 7.5.1). */
  async acceptChallenge(challenge: Challenge, signal: AbortSignal): Promise<Challenge> {
    return parseJson<Challenge>(await this.#post(challenge.url, {}, signal));
  }

  /** Polls an authorization until it is no longer pending. */
  waitForAuthorization(url: string, signal: AbortSignal): Promise<Authorization> {
    return this.#poll(url, (authz: Authorization) => authz.status !== 'pending', 'authorization', signal);
  }

  /** Polls an order until it has left `pending`/`processing` (ready, valid or invalid). */
  waitForOrder(url: string, signal: AbortSignal): Promise<Order> {
    return this.#poll(
      url,
      (order: Order) => order.status !== 'pending' && order.status !== 'processing',
      'order',
      signal,
    );
  }

  /** Sends the CSR (DER) and waits until the certificate is issued; throws the CA's problem otherwise. */
  async finalizeOrder(order: Order, csrDer: Uint8Array, signal: AbortSignal): Promise<Order> {
    const response = await this.#post(
      order.finalize,
      { csr: Buffer.from(csrDer).toString('base64url') },
      signal,
    );
    let finalized: Order = { ...parseJson<Omit<Order, 'url'>>(response), url: order.url };
    if (finalized.status === 'processing' || finalized.status === 'ready') {
      finalized = await this.waitForOrder(order.url, signal);
    }
    if (finalized.status !== 'valid' || !finalized.certificate) {
      throw orderProblem(finalized, 'finalizing the order');
    }
    return finalized;
  }

  /** Downloads a PEM chain and the URLs of the alternative chains (Link rel="alternate"). */
  async downloadCertificate(url: string, signal: AbortSignal): Promise<CertificateChain> {
    const response = await this.#post(url, undefined, signal, {
      accept: 'application/pem-certificate-chain',
    });
    const pem = response.body.toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AcmeProtocolError(`${url} did not return a PEM certificate chain`);
    }
    return { pem, alternates: linkTargets(response, 'alternate') };
  }

  /**
   * Revokes a certificate (DER) (RFC 8555 section 7.6): signed by the account that holds it, or, with
   * `certificateKey`, by the certificate's own private key (works when the account is gone).
   */
  async revokeCertificate(
    certificateDer: Uint8Array,
    reason: RevocationReason,
    signal: AbortSignal,
    certificateKey?: KeyObject,
  ): Promise<void> {
    const directory = await this.directory(signal);
    await this.#post(
      directory.revokeCert,
      { certificate: Buffer.from(certificateDer).toString('base64url'), reason },
      signal,
      certificateKey ? { signingKey: certificateKey } : {},
    );
  }

  async #fetchDirectory(signal: AbortSignal): Promise<Directory> {
    const response = await this.#http.send(this.directoryUrl, () => ({ method: 'GET', headers: {} }), signal);
    const directory = parseJson<Directory>(response);
    for (const field of ['newNonce', 'newAccount', 'newOrder'] as const) {
      if (typeof directory[field] !== 'string') {
        throw new AcmeProtocolError(`${this.directoryUrl} is not an ACME directory: it has no ${field}`);
      }
    }
    return directory;
  }

  async #fetchNonce(signal: AbortSignal): Promise<void> {
    const { newNonce } = await this.directory(signal);
    await this.#http.send(newNonce, () => ({ method: 'HEAD', headers: {} }), signal);
  }

  async #accountRequest(url: string, payload: unknown, signal: AbortSignal): Promise<Account> {
    const response = await this.#post(url, payload, signal, { identifyBy: 'jwk' });
    const accountUrl = requireLocation(response);
    this.#accountUrl = accountUrl;
    return { ...parseJson<Omit<Account, 'url'>>(response), url: accountUrl };
  }

  /** A signed POST; `payload` undefined makes it a POST-as-GET (section 6.3). */
  #post(
    url: string,
    payload: unknown,
    signal: AbortSignal,
    options: { identifyBy?: 'jwk' | 'kid'; accept?: string; signingKey?: KeyObject } = {},
  ): Promise<AcmeResponse> {
    // Revocation may be signed by the certificate's own key instead of the account's (section 7.6).
    const key = options.signingKey ?? this.#accountKey;
    const identification = options.signingKey
      ? { jwk: publicJwk(options.signingKey) }
      : this.#identification(options.identifyBy ?? 'kid');
    return this.#http.send(
      url,
      async () => {
        const nonce = await this.#nonces.take(signal);
        const body = signJws(key, { ...identification, url, nonce }, payload);
        const headers: Record<string, string> = { 'content-type': 'application/jose+json' };
        if (options.accept) headers.accept = options.accept;
        return { method: 'POST', headers, body: JSON.stringify(body) };
      },
      signal,
    );
  }

  #identification(by: 'jwk' | 'kid'): KeyIdentification {
    if (by === 'jwk') return { jwk: this.#accountJwk };
    if (!this.#accountUrl)
      throw new TypeError('no ACME account yet: call createAccount() or findAccount() first');
    return { kid: this.#accountUrl };
  }

  async #poll<T>(url: string, done: (resource: T) => boolean, what: string, signal: AbortSignal): Promise<T> {
    const clock = this.#http.clock;
    const deadline = clock.now() + this.#polling.timeoutMs;
    let delay = this.#polling.initialDelayMs;
    for (;;) {
      const response = await this.#post(url, undefined, signal);
      const resource = { ...parseJson<T>(response), url };
      if (done(resource)) return resource;
      const now = clock.now();
      if (now >= deadline) {
        throw new TimeoutError(
          `the ${what} at ${url} was still not done after ${this.#polling.timeoutMs} ms`,
        );
      }
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
      const wait = retryAfter ? retryAfter.getTime() - now : delay;
      delay = Math.min(delay * 2, this.#polling.maxDelayMs);
      await clock.sleep(Math.max(0, Math.min(wait, deadline - now)), signal);
    }
  }
}

function contactUrl(contact: string): string {
  const trimmed = contact.trim();
  return /^[a-z][a-z0-9+.-]*:/i.test(trimmed) ? trimmed : `mailto:${trimmed}`;
}

function requireLocation(response: AcmeResponse): string {
  const location = response.headers.get('location');
  if (!location) throw new AcmeProtocolError(`${response.url} answered without a Location header`);
  return new URL(location, response.url).href;
}

/** The problem of an order that did not become valid, as a typed error. */
export function orderProblem(order: Order, during: string): AcmeProblemError | AcmeProtocolError {
  if (order.error) return new AcmeProblemError(order.error, { context: `${during} (${order.url})` });
  return new AcmeProtocolError(`${during}: the order ${order.url} is ${order.status}, not valid`);
}
