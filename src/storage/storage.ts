// The storage contract every backend (filesystem, memory, later Redis and PostgreSQL) fulfils.
// Values are opaque bytes; keys are '/'-separated paths made by the key builder in keys.ts.

export interface StorageOptions {
  readonly signal?: AbortSignal;
}

export interface Storage {
  /** The value, or undefined when the key does not exist. */
  get(key: string, options?: StorageOptions): Promise<Uint8Array | undefined>;
  /** Atomic: a concurrent reader sees the old value or the new one, never a part. */
  put(key: string, value: Uint8Array, options?: StorageOptions): Promise<void>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string, options?: StorageOptions): Promise<void>;
  /**
   * Keys below `prefix` (a folder-like path, without a trailing '/'), sorted.
   * Without `recursive`, only the direct children (a child folder is listed by its path).
   */
  list(prefix: string, options?: StorageOptions & { recursive?: boolean }): Promise<string[]>;
  /** Waits for and takes the named lock; the lease expires if the holder dies or stops renewing it. */
  lock(name: string, options?: StorageOptions & { ttlMs?: number }): Promise<Lock>;
}

export interface Lock extends AsyncDisposable {
  /** Identifies the holder; only the holder can release. */
  readonly token: string;
  /** Fires when the lease could not be kept (then the work under it must stop). */
  readonly lost: AbortSignal;
  /** Gives the lock up; idempotent. */
  release(): Promise<void>;
}
