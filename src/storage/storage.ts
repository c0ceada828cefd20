// The storage contract every backend (filesystem, memory, later Redis and PostgreSQL) fulfils.
// Values are opaque bytes; keys are '/'-separated paths made by the key builder in keys.ts.
// test/unit/storage/conformance.ts is the executable form of this contract: every backend runs it.

export interface StorageOptions {
  readonly signal?: AbortSignal;
}

/**
 * Keys (and lock names) are segments of `[a-z0-9._-]` (not starting with '.' or '-') joined by single
 * '/'; anything else is caller misuse and rejected with a TypeError before any I/O (see assertKey).
 * Other failures are StorageError (LockError for locks), naming the key but never the value.
 */
export interface Storage {
  /** The value (a fresh copy), or undefined when the key does not exist. */
  get(key: string, options?: StorageOptions): Promise<Uint8Array | undefined>;
  /** Atomic: a concurrent reader sees the old value or the new one, never a part. The value is copied. */
  put(key: string, value: Uint8Array, options?: StorageOptions): Promise<void>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string, options?: StorageOptions): Promise<void>;
  /**
   * Keys below `prefix` (a folder-like path, without a trailing '/'; '' for everything), sorted by
   * UTF-16 code units (`Array.prototype.sort`; for SQL that is `COLLATE "C"`). Without `recursive`,
   * only the direct children: a child folder is listed by its path, and only while it holds a key.
   * `a/b` never lists `a/bc/...`. A key is not a folder: listing a key's own path gives [].
   */
  list(prefix: string, options?: StorageOptions & { recursive?: boolean }): Promise<string[]>;
  /**
   * Waits for and takes the named lock (default ttl 60 s). The holder renews the lease every ttl/3;
   * the lease expires if the holder dies or stops renewing. Rejects with `signal.reason` when the
   * signal aborts before the lock is taken.
   */
  lock(name: string, options?: StorageOptions & { ttlMs?: number }): Promise<Lock>;
}

export interface Lock extends AsyncDisposable {
  /** Identifies the holder; only the holder can release. */
  readonly token: string;
  /**
   * Fires (with a LockError reason) when the lease could not be kept: another holder took it over, or
   * it could not be renewed before it ran out. Then the work under it must stop. A release does not fire it.
   */
  readonly lost: AbortSignal;
  /** Gives the lock up, only if it is still ours (never another holder's); idempotent. */
  release(): Promise<void>;
}
