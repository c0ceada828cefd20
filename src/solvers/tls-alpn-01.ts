// TLS-ALPN-01 (RFC 8737): the solver makes the challenge certificate and puts its SecureContext in an
// in-memory registry; the TLS listener (server/) looks the registry up by SNI name when a validator
// connects with ALPN "acme-tls/1". This file knows nothing about sockets.
import { createSecureContext, type SecureContext } from 'node:tls';
import { createChallengeCertificate } from '../crypto/challenge-cert.js';
import type { ChallengeSolver, PendingChallenge } from './solver.js';

/** What the listener needs: the answer for a name, or undefined when nothing is pending for it. */
export interface TlsAlpnChallengeLookup {
  get(domain: string): SecureContext | undefined;
}

interface Entry {
  /** The key authorization this entry answers; cleanup removes only its own entry. */
  readonly keyAuthorization: string;
  readonly context: SecureContext;
}

/** Names are compared as the parser reports SNI: lowercase, without a trailing dot. */
function normalize(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

/**
 * The challenges being answered right now, keyed by name. Many names may be in flight at once; a name
 * has an entry only between present() and cleanup(). One instance is shared by the solver and listener.
 */
export class TlsAlpnChallenges implements TlsAlpnChallengeLookup {
  readonly #entries = new Map<string, Entry>();

  get(domain: string): SecureContext | undefined {
    return this.#entries.get(normalize(domain))?.context;
  }

  has(domain: string): boolean {
    return this.#entries.has(normalize(domain));
  }

  /**
   * Registers the answer for `domain`, replacing any earlier one: only one certificate can be shown
   * for a name, and the newest challenge is the one the CA is about to check.
   */
  set(domain: string, keyAuthorization: string, context: SecureContext): void {
    this.#entries.set(normalize(domain), { keyAuthorization, context });
  }

  /**
   * Removes the answer for `domain`. With `keyAuthorization`, only if it is still that challenge's
   * answer, so a late cleanup of an older challenge cannot remove a newer one. Returns whether it removed.
   */
  delete(domain: string, keyAuthorization?: string): boolean {
    const key = normalize(domain);
    const entry = this.#entries.get(key);
    if (!entry || (keyAuthorization !== undefined && entry.keyAuthorization !== keyAuthorization))
      return false;
    return this.#entries.delete(key);
  }

  /** The names with a pending answer (for diagnostics). */
  domains(): string[] {
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }
}

export class TlsAlpn01Solver implements ChallengeSolver {
  readonly type = 'tls-alpn-01' as const;
  readonly #challenges: TlsAlpnChallenges;

  constructor(challenges: TlsAlpnChallenges) {
    this.#challenges = challenges;
  }

  async present(challenge: PendingChallenge, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (challenge.type !== 'tls-alpn-01') {
      throw new TypeError(`TlsAlpn01Solver cannot present a ${challenge.type} challenge`);
    }
    // RFC 8737 section 3: TLS-ALPN-01 must not be used to validate wildcard names.
    if (challenge.wildcard) {
      throw new TypeError(`TLS-ALPN-01 cannot prove the wildcard name *.${challenge.domain}`);
    }
    const { certPem, keyPem } = await createChallengeCertificate(
      challenge.domain,
      challenge.keyAuthorization,
    );
    const context = createSecureContext({ cert: certPem, key: keyPem });
    this.#challenges.set(challenge.domain, challenge.keyAuthorization, context);
  }

  async cleanup(challenge: PendingChallenge, _signal: AbortSignal): Promise<void> {
    // Not checking the signal: cleanup should still happen when the issuance was aborted.
    this.#challenges.delete(challenge.domain, challenge.keyAuthorization);
  }
}
