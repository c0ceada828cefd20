// HTTP-01 (RFC 8555 section 8.3): the solver puts the key authorization for a token in an in-memory
// registry; an HTTP handler (server/http-challenge.ts) answers GET /.well-known/acme-challenge/<token>
// from it. This file knows nothing about sockets.
import { PendingAnswers } from './pending-answers.js';
import type { ChallengeSolver, PendingChallenge } from './solver.js';

/**
 * RFC 8555 section 8.1: a token is base64url without padding. Anything else is refused, because the
 * token becomes a URL path segment: a CA (or a bug) handing us "../x" or "a/b" must not be able to make
 * the handler match odd paths.
 */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;

export function isValidHttpChallengeToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/**
 * What the HTTP handler needs: the key authorization for a token, or undefined when nothing is pending.
 * The answer may be a promise, so that a lookup backed by shared storage (a cluster where any node may
 * receive the validator's request) fits the same handler.
 */
export interface HttpChallengeLookup {
  get(token: string): string | undefined | PromiseLike<string | undefined>;
}

/**
 * The HTTP-01 answers pending right now, keyed by token (case-exact: tokens are base64url, where `a` and
 * `A` differ). A token has an entry only between present() and cleanup(). One instance is shared by the
 * solver(s) and the handler.
 */
export class HttpChallenges implements HttpChallengeLookup {
  readonly #answers = new PendingAnswers<string>();

  get(token: string): string | undefined {
    return this.#answers.get(token);
  }

  has(token: string): boolean {
    return this.#answers.has(token);
  }

  /** Registers the answer for `token`, replacing any earlier one (a retried present of the same challenge). */
  set(token: string, keyAuthorization: string): void {
    if (!isValidHttpChallengeToken(token)) {
      throw new TypeError(`an HTTP-01 token must be base64url, got ${JSON.stringify(token.slice(0, 100))}`);
    }
    this.#answers.set(token, keyAuthorization, keyAuthorization);
  }

  /** Removes the answer for `token`; with `keyAuthorization`, only if it is still that answer. */
  delete(token: string, keyAuthorization?: string): boolean {
    return this.#answers.delete(token, keyAuthorization);
  }

  /** The tokens with a pending answer (for diagnostics). */
  tokens(): string[] {
    return this.#answers.keys();
  }

  get size(): number {
    return this.#answers.size;
  }
}

export class Http01Solver implements ChallengeSolver {
  readonly type = 'http-01' as const;
  readonly #challenges: HttpChallenges;

  constructor(challenges: HttpChallenges) {
    this.#challenges = challenges;
  }

  async present(challenge: PendingChallenge, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (challenge.type !== 'http-01') {
      throw new TypeError(`Http01Solver cannot present a ${challenge.type} challenge`);
    }
    // RFC 8555 section 7.1.3 / 8.3: serving a file on one host proves nothing about every name under
    // a domain, so CAs only offer dns-01 for wildcards; refuse clearly instead of failing at the CA.
    if (challenge.wildcard) {
      throw new TypeError(
        `HTTP-01 cannot prove the wildcard name *.${challenge.domain}; use a dns-01 solver for it`,
      );
    }
    if (!isValidHttpChallengeToken(challenge.token)) {
      throw new TypeError(
        `${challenge.domain}: the CA sent an HTTP-01 token that is not base64url: ` +
          JSON.stringify(challenge.token.slice(0, 100)),
      );
    }
    // RFC 8555 section 8.1: keyAuthorization = token || '.' || thumbprint. Anything else would be
    // served to the validator and fail there, with a far less helpful message.
    if (!challenge.keyAuthorization.startsWith(`${challenge.token}.`)) {
      throw new TypeError(`${challenge.domain}: the key authorization does not start with its token`);
    }
    this.#challenges.set(challenge.token, challenge.keyAuthorization);
  }

  async cleanup(challenge: PendingChallenge, _signal: AbortSignal): Promise<void> {
    // Not checking the signal: cleanup should still happen when the issuance was aborted.
    this.#challenges.delete(challenge.token, challenge.keyAuthorization);
  }
}
