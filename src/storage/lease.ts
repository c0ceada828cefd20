// Lease locks, the part every backend shares: waiting for a busy lock with backoff, and the held lock
// that renews its lease every ttl/3, fires `lost` when the lease cannot be kept, and releases once.
// A backend only says how to renew and remove its own lease record (a file, a map entry, a row).
import { LockError } from '../errors.js';
import type { Lock } from './storage.js';

export const DEFAULT_LOCK_TTL_MS = 60_000;
/** Below this, renewing every ttl/3 would be busier than useful. */
export const MIN_LOCK_TTL_MS = 30;
/** Polling a busy lock: from FIRST_POLL_MS, doubling up to MAX_POLL_MS. */
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;

// Node >= 20.4 defines Symbol.asyncDispose; the fallback is the registry symbol that the `await using`
// helpers of TypeScript and esbuild look for on older runtimes.
export const asyncDispose: typeof Symbol.asyncDispose =
  Symbol.asyncDispose ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);

/** The ttl to use, default filled in; TypeError for nonsense (caller misuse). */
export function lockTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? DEFAULT_LOCK_TTL_MS;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < MIN_LOCK_TTL_MS) {
    throw new TypeError(`lock ttlMs must be a number >= ${MIN_LOCK_TTL_MS}, got ${String(ttlMs)}`);
  }
  return ttl;
}

/** Subscribes to "worth trying again now" (a release in this process); returns the unsubscribe. */
export type WakeSource = (wake: () => void) => () => void;

/** Waits `ms` (or until woken); rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal, wakeSource?: WakeSource): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = (): void => {
      clearTimeout(timer);
      unsubscribe?.();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    const unsubscribe = wakeSource?.(() => {
      done();
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `attempt` until it yields a lock, sleeping 25 ms doubling to 500 ms in between (or less when
 * `wakeSource` says so). Rejects with `signal.reason` when the signal aborts; errors of `attempt` pass.
 */
export async function acquireWithBackoff(
  attempt: () => Promise<Lock | undefined>,
  signal?: AbortSignal,
  wakeSource?: WakeSource,
): Promise<Lock> {
  for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
    signal?.throwIfAborted();
    const lock = await attempt();
    if (lock !== undefined) {
      // Aborted while the last attempt ran: the caller no longer wants the lock, so give it back.
      if (signal?.aborted) {
        await lock.release().catch(() => {});
        signal.throwIfAborted();
      }
      return lock;
    }
    await sleep(delay, signal, wakeSource);
  }
}

/** How a backend keeps its lease record. */
export interface LeaseRecord {
  /** Extends the lease if the record is still ours: true, or why it is lost. Throwing = a passing error. */
  renew(): Promise<true | string>;
  /** Removes the record if it is still ours (and only then). */
  remove(): Promise<void>;
}

/** A held lock. While held, its lease is renewed every ttl/3 (the timer never keeps the process alive). */
export class LeaseLock implements Lock {
  readonly token: string;
  readonly lost: AbortSignal;
  readonly #name: string;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #record: LeaseRecord;
  readonly #lost = new AbortController();
  #renewedAt: number;
  #timer: NodeJS.Timeout | undefined;
  #released: Promise<void> | undefined;

  constructor(name: string, token: string, ttlMs: number, clock: () => number, record: LeaseRecord) {
    this.#name = name;
    this.token = token;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
    this.#record = record;
    this.lost = this.#lost.signal;
    this.#renewedAt = clock();
    this.#schedule();
  }

  /** Gives the lock up: removes the lease only if it is still ours. Idempotent; does not fire `lost`. */
  release(): Promise<void> {
    this.#released ??= (async () => {
      clearTimeout(this.#timer);
      try {
        await this.#record.remove();
      } catch (err) {
        throw new LockError(`cannot release lock ${this.#name}`, { cause: err });
      }
    })();
    return this.#released;
  }

  [asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Fires `lost` and stops renewing; for backends that learn of a take-over directly. */
  markLost(why: string): void {
    clearTimeout(this.#timer);
    if (!this.#lost.signal.aborted) this.#lost.abort(new LockError(`lock ${this.#name} lost: ${why}`));
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#renew(), this.#ttlMs / 3);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#released || this.lost.aborted) return;
    const started = this.#clock(); // the record's new lease ends no earlier than started + ttl
    try {
      const renewed = await this.#record.renew();
      if (this.#released) return;
      if (renewed !== true) return this.markLost(renewed);
      this.#renewedAt = started;
    } catch {
      // A passing error (busy disk, network blip): keep trying while the lease lasts.
    }
    // Past the end of our own lease, another node may already hold it: stop the work under it.
    if (this.#clock() >= this.#renewedAt + this.#ttlMs) {
      return this.markLost('it could not be renewed in time');
    }
    if (!this.#released && !this.lost.aborted) this.#schedule();
  }
}
