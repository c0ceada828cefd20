// When to renew and when to retry. Pure functions of time, so the scheduler's decisions are testable
// without waiting.

export interface RetryBackoff {
  /** First wait after a failed attempt. */
  readonly initialMs: number;
  /** The wait doubles per consecutive failure up to this. */
  readonly maxMs: number;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 60_000, maxMs: 6 * 3_600_000 };

/** At most this much earlier than the exact due time, so many certificates issued together spread out. */
const MAX_JITTER_MS = 3_600_000;

/**
 * When a certificate should be renewed: `renewBefore` ahead of its expiry, but never later than half its
 * lifetime. The cap keeps a short-lived certificate (6-day certificates, a test CA's minutes) from being
 * "due" the moment it arrives, which would renew it in a loop and burn the CA's rate limits.
 * A jitter of up to 1 % of the lifetime (at most an hour) brings it forward.
 */
export function renewalDueAt(
  notBefore: Date,
  notAfter: Date,
  renewBeforeMs: number,
  random: () => number = Math.random,
): Date {
  const lifetime = Math.max(0, notAfter.getTime() - notBefore.getTime());
  const ahead = Math.min(renewBeforeMs, lifetime / 2);
  const jitter = random() * Math.min(MAX_JITTER_MS, lifetime / 100);
  return new Date(notAfter.getTime() - ahead - jitter);
}

/**
 * When to try again after `failures` consecutive failures (1 = the first): capped exponential backoff,
 * or later if the CA said so (Retry-After), never sooner.
 */
export function retryAt(now: number, failures: number, backoff: RetryBackoff, retryAfter?: Date): Date {
  const wait = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
  return new Date(Math.max(now + wait, retryAfter?.getTime() ?? 0));
}
