// Proving control of every name of an order: each authorization is fetched and solved concurrently,
// already-valid ones are skipped, the challenge type is picked by preference among those the CA offers,
// and the solver's answer is always cleaned up, also when validation fails or another name's does.
import type { AcmeClient } from '../acme/client.js';
import type { Authorization, Challenge } from '../acme/resources.js';
import { AcmeProblemError, ChallengeFailedError, ChallengeUnsupportedError } from '../errors.js';
import type { ChallengeSolver, ChallengeType, PendingChallenge } from '../solvers/solver.js';
import type { IssueProgress } from './issuer.js';

export interface AuthorizationContext {
  readonly client: AcmeClient;
  /** Solvers in order of preference: the first whose type the CA offers is used. */
  readonly solvers: readonly ChallengeSolver[];
  /**
   * The challenge type whose validation failed last for a name (kept by the issuer across orders):
   * the next order tries the next preferred type the CA offers, and comes back to it when that fails too.
   */
  readonly lastFailed?: Map<string, ChallengeType>;
  readonly onProgress: (progress: IssueProgress) => void;
}

/**
 * Solves all authorizations of an order. On the first failure the others are aborted, and this waits
 * for every cleanup before throwing that first failure, so nothing is left presented.
 */
export async function solveAuthorizations(
  context: AuthorizationContext,
  urls: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  const abortOthers = new AbortController();
  const linked = AbortSignal.any([signal, abortOthers.signal]);
  const results = await Promise.allSettled(
    urls.map((url) =>
      solveAuthorization(context, url, linked).catch((error: unknown) => {
        abortOthers.abort(error);
        throw error;
      }),
    ),
  );
  signal.throwIfAborted();
  // The first failure is the cause; the others are mostly the abort it triggered.
  const failure =
    results.find(
      (result): result is PromiseRejectedResult =>
        result.status === 'rejected' && result.reason !== abortOthers.signal.reason,
    ) ?? results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

async function solveAuthorization(
  context: AuthorizationContext,
  url: string,
  signal: AbortSignal,
): Promise<void> {
  const { client, onProgress } = context;
  const authorization = await client.getAuthorization(url, signal);
  const domain = displayName(authorization);
  if (authorization.status === 'valid') {
    onProgress({ step: 'authorization', domain, state: 'already-valid' });
    return;
  }
  if (authorization.status !== 'pending') {
    throw new ChallengeFailedError(domain, `the authorization is ${authorization.status}, not pending`);
  }

  const { solver, challenge } = chooseChallenge(
    context.solvers,
    authorization,
    context.lastFailed?.get(domain),
  );
  const token = challenge.token;
  if (!token) throw new ChallengeFailedError(domain, `the ${challenge.type} challenge has no token`);
  const pending: PendingChallenge = {
    type: solver.type,
    domain: authorization.identifier.value,
    wildcard: authorization.wildcard === true,
    token,
    keyAuthorization: client.keyAuthorization(token),
  };

  try {
    onProgress({ step: 'authorization', domain, state: 'presenting', challenge: solver.type });
    await solver.present(pending, signal);
    await solver.wait?.(pending, signal);
    onProgress({ step: 'authorization', domain, state: 'validating', challenge: solver.type });
    await client.acceptChallenge(challenge, signal);
    const result = await client.waitForAuthorization(url, signal);
    if (result.status !== 'valid') {
      context.lastFailed?.set(domain, solver.type);
      throw validationFailure(domain, solver.type, result);
    }
    context.lastFailed?.delete(domain);
    onProgress({ step: 'authorization', domain, state: 'valid', challenge: solver.type });
  } finally {
    // Cleanup must run even when we were aborted; give it a fresh signal with its own bound.
    await solver.cleanup(pending, AbortSignal.timeout(30_000)).catch(() => {});
  }
}

function chooseChallenge(
  solvers: readonly ChallengeSolver[],
  authorization: Authorization,
  lastFailed: ChallengeType | undefined,
): { solver: ChallengeSolver; challenge: Challenge } {
  const usable = solvers.flatMap((solver) => {
    const challenge = authorization.challenges.find((offered) => offered.type === solver.type);
    return challenge ? [{ solver, challenge }] : [];
  });
  const choice = usable.find((candidate) => candidate.solver.type !== lastFailed) ?? usable[0];
  if (choice) return choice;
  throw new ChallengeUnsupportedError(
    displayName(authorization),
    solvers.map((solver) => solver.type),
    authorization.challenges.map((offered) => offered.type),
  );
}

function validationFailure(
  domain: string,
  type: ChallengeType,
  authorization: Authorization,
): ChallengeFailedError {
  const failed = authorization.challenges.find((challenge) => challenge.type === type && challenge.error);
  const problem = failed?.error ? new AcmeProblemError(failed.error) : undefined;
  const detail = problem
    ? `${problem.shortType}: ${problem.detail}`
    : `the authorization became ${authorization.status}`;
  return new ChallengeFailedError(domain, `${type} validation failed: ${detail}`, problem);
}

function displayName(authorization: Authorization): string {
  return authorization.wildcard ? `*.${authorization.identifier.value}` : authorization.identifier.value;
}
