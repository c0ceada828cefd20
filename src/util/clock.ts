// Time as a dependency: everything that waits or reads the time gets a Clock, so tests can control it.
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    // setTimeout cannot wait longer than 2^31-1 ms (~24.8 days): a longer delay fires after 1 ms.
    // A renewal due in 60 days is normal, so sleep in steps.
    for (let left = ms; left > 0; left -= MAX_TIMER_MS) {
      await delay(Math.min(left, MAX_TIMER_MS), undefined, signal ? { signal } : undefined);
    }
  },
};

/** Exponential backoff with full jitter: a random delay in [base * 2^attempt / 2, base * 2^attempt], capped. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Parses a Retry-After header (seconds or HTTP date) into an absolute time, or undefined. */
export function parseRetryAfter(value: string | null | undefined, now: number): Date | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return new Date(now + Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : new Date(date);
}
