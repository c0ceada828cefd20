// TLS-ALPN-01 (RFC 8737): the solver makes the challenge certificate and puts its SecureContext in an
// in-memory registry; the TLS listener (server/) looks the registry up by SNI name when a validator
// connects with ALPN "acme-tls/1". This file knows nothing about sockets.
import { createSecureContext, type SecureContext } from 'node:tls';
import { createChallengeCertificate } from '../crypto/challenge-cert.js';
import { PendingAnswers } from './pending-answers.js';
import type { ChallengeSolver, PendingChallenge } from './solver.js';

/** What the listener needs: the answer for a name, or undefined when nothing is pending for it. */
export interface TlsAlpnChallengeLookup {
  get(domain: string): SecureContext | undefined;
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
  readonly #answers = new PendingAnswers<SecureContext>();

  get(domain: string): SecureContext | undefined {
    return this.#answers.get(normalize(domain));
  }

  has(domain: string): boolean {
    return this.#answers.has(normalize(domain));
  }

  /** Registers the answer for `domain`, replacing any earlier one: only one certificate can be shown per name. */
  set(domain: string, keyAuthorization: string, context: SecureContext): void {
    this.#answers.set(normalize(domain), keyAuthorization, context);
  }

  /** Removes the answer for `domain`; with `keyAuthorization`, only if it is still that challenge's. */
  delete(domain: string, keyAuthorization?: string): boolean {
    return this.#answers.delete(normalize(domain), keyAuthorization);
  }

  /** The names with a pending answer (for diagnostics). */
  domains(): string[] {
    return this.#answers.keys();
  }

  get size(): number {
    return this.#answers.size;
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
