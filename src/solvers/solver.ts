// The contract between the ACME flow and whatever proves control of a name (RFC 8555 section 8).
// A solver is told about one challenge at a time; many may be in flight at once, for different names.

export const CHALLENGE_TYPES = ['tls-alpn-01', 'http-01', 'dns-01'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

export function isChallengeType(value: string): value is ChallengeType {
  return (CHALLENGE_TYPES as readonly string[]).includes(value);
}

/** One challenge the CA is waiting for, with everything a solver needs to answer it. */
export interface PendingChallenge {
  readonly type: ChallengeType;
  /** The identifier being proven, ASCII (IDNA) and lowercase, without a leading `*.`. */
  readonly domain: string;
  /** True when the authorization is for `*.domain` (then only dns-01 can prove it). */
  readonly wildcard: boolean;
  readonly token: string;
  /** token + "." + base64url(JWK thumbprint of the account key), RFC 8555 section 8.1. */
  readonly keyAuthorization: string;
}

export interface ChallengeSolver {
  readonly type: ChallengeType;
  /** Makes the answer available (quickly). */
  present(challenge: PendingChallenge, signal: AbortSignal): Promise<void>;
  /** Optional slow part before the CA is told to validate, e.g. waiting for DNS propagation. */
  wait?(challenge: PendingChallenge, signal: AbortSignal): Promise<void>;
  /** Removes the answer; called even when present() failed, so it must tolerate nothing to remove. */
  cleanup(challenge: PendingChallenge, signal: AbortSignal): Promise<void>;
}
