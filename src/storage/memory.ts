// MemoryStorage: the Storage contract in process memory, for unit tests and single-process use.
// It keeps the semantics of the persistent backends on purpose (values copied in and out, the same key
// rules, leases that expire unless renewed), so that code tested against it behaves the same on disk.
import { randomUUID } from 'node:crypto';
import { assertKey, assertPrefix } from './keys.js';
import { acquireWithBackoff, LeaseLock, lockTtl } from './lease.js';
import type { Lock, Storage, StorageOptions } from './storage.js';

export interface MemoryStorageOptions {
  /** Milliseconds since the epoch; lease times come from it. */
  readonly clock?: () => number;
  /**
   * Share the values and locks of another MemoryStorage: two instances then behave as two nodes of one
   * cluster, each with its own clock (e.g. to model a node whose clock runs ahead).
   */
  readonly sharedWith?: MemoryStorage;
}

interface Lease {
  token: string;
  expiresAt: number;
  holder: LeaseLock;
}

/** What instances created with `sharedWith` have in common. */
interface SharedState {
  readonly values: Map<string, Uint8Array>;
  readonly leases: Map<string, Lease>;
  /** Waiters to wake when a lock is given up, so they need not wait for their next poll. */
  readonly wakers: Set<() => void>;
}

export class MemoryStorage implements Storage {
  readonly #clock: () => number;
  readonly #state: SharedState;

  constructor(options: MemoryStorageOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    const shared = options.sharedWith;
    this.#state = shared ? shared.#state : { values: new Map(), leases: new Map(), wakers: new Set() };
  }

  async get(key: string, options?: StorageOptions): Promise<Uint8Array | undefined> {
    assertKey(key);
    options?.signal?.throwIfAborted();
    const value = this.#state.values.get(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  async put(key: string, value: Uint8Array, options?: StorageOptions): Promise<void> {
    assertKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError(`value for ${key} must be a Uint8Array`);
    options?.signal?.throwIfAborted();
    this.#state.values.set(key, new Uint8Array(value));
  }

  async delete(key: string, options?: StorageOptions): Promise<void> {
    assertKey(key);
    options?.signal?.throwIfAborted();
    this.#state.values.delete(key);
  }

  async list(prefix: string, options?: StorageOptions & { recursive?: boolean }): Promise<string[]> {
    assertPrefix(prefix);
    options?.signal?.throwIfAborted();
    const start = prefix === '' ? '' : `${prefix}/`;
    const found = new Set<string>();
    for (const key of this.#state.values.keys()) {
      if (!key.startsWith(start)) continue;
      if (options?.recursive) {
        found.add(key);
      } else {
        // A direct child: the key itself, or the folder it lies in.
        const slash = key.indexOf('/', start.length);
        found.add(slash === -1 ? key : key.slice(0, slash));
      }
    }
    return [...found].sort();
  }

  async lock(name: string, options: StorageOptions & { ttlMs?: number } = {}): Promise<Lock> {
    assertKey(name);
    const ttlMs = lockTtl(options.ttlMs);
    options.signal?.throwIfAborted();
    const wakeSource = (wake: () => void) => {
      this.#state.wakers.add(wake);
      return () => this.#state.wakers.delete(wake);
    };
    return acquireWithBackoff(async () => this.#tryLock(name, ttlMs), options.signal, wakeSource);
  }

  #tryLock(name: string, ttlMs: number): Lock | undefined {
    const { leases } = this.#state;
    const current = leases.get(name);
    if (current !== undefined && this.#clock() <= current.expiresAt) return undefined;
    // Free, or the lease ran out (by this instance's clock): take it; a former holder learns at once.
    current?.holder.markLost('its lease expired and another holder took it over');
    const token = randomUUID();
    const holder = new LeaseLock(name, token, ttlMs, this.#clock, {
      renew: async () => {
        const lease = leases.get(name);
        if (lease?.token !== token) return 'another holder took it over';
        lease.expiresAt = this.#clock() + ttlMs;
        return true;
      },
      remove: async () => {
        if (leases.get(name)?.token !== token) return;
        leases.delete(name);
        for (const wake of [...this.#state.wakers]) wake();
      },
    });
    leases.set(name, { token, expiresAt: this.#clock() + ttlMs, holder });
    return holder;
  }
}
