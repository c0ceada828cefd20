// FileStorage: the Storage contract on a local folder, safe for several processes sharing that folder.
// A key is a file below the root; writes go to a temporary file that is synced and renamed over the
// target, so a reader sees the old value or the new one. Everything is private to the owner (files 0600,
// folders 0700), because the cache holds private keys. Locks are lease files in <root>/.locks (fs-lock.ts).
import { chmod, mkdir, readdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { LockError, StorageError } from '../errors.js';
import { syncFolder, writeFileAtomic } from '../util/atomic-file.js';
import { errno, LockFiles, tempName } from './fs-lock.js';
import { assertKey, assertPrefix, isSafeName } from './keys.js';
import { acquireWithBackoff, lockTtl } from './lease.js';
import type { Lock, Storage, StorageOptions } from './storage.js';

export interface FileStorageOptions {
  /** The folder holding everything; created (0700) when missing, its group/other bits removed if present. */
  readonly root: string;
  /** Milliseconds since the epoch; lease times come from it, so tests can model a skewed or stalled node. */
  readonly clock?: () => number;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** A temporary file this old is left from a crash (a write takes milliseconds) and may be removed. */
const STALE_TEMP_MS = 3_600_000;
const RETRYABLE_ERRNO = new Set(['EAGAIN', 'EBUSY', 'EINTR', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'EIO']);

/** Names the key and the system error, never the value. */
function storageError(action: string, key: string, err: unknown): StorageError {
  const why = errno(err) ?? (err instanceof Error ? err.message : String(err));
  return new StorageError(`cannot ${action} ${JSON.stringify(key)}: ${why}`, {
    retryable: RETRYABLE_ERRNO.has(errno(err) ?? ''),
    cause: err,
  });
}

export class FileStorage implements Storage {
  readonly root: string;
  readonly #clock: () => number;
  readonly #lockDir: string;
  readonly #locks: LockFiles;
  /** Waiters of this instance, woken when one of its locks is released (others poll). */
  readonly #wakers = new Set<() => void>();
  #ready: Promise<void> | undefined;

  constructor(options: FileStorageOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new TypeError('FileStorage needs a root folder');
    }
    this.root = resolve(options.root);
    this.#clock = options.clock ?? Date.now;
    this.#lockDir = join(this.root, '.locks');
    this.#locks = new LockFiles(this.#lockDir, this.#clock);
  }

  async get(key: string, options?: StorageOptions): Promise<Uint8Array | undefined> {
    assertKey(key);
    options?.signal?.throwIfAborted();
    try {
      return new Uint8Array(await readFile(this.#path(key)));
    } catch (err) {
      if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno(err) ?? '')) return undefined;
      throw storageError('read', key, err);
    }
  }

  async put(key: string, value: Uint8Array, options?: StorageOptions): Promise<void> {
    assertKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError(`value for ${key} must be a Uint8Array`);
    options?.signal?.throwIfAborted();
    const path = this.#path(key);
    try {
      await this.#init();
      // A concurrent delete may remove an empty folder between our mkdir and open: then go again.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#writeAtomically(path, value);
        } catch (err) {
          if (errno(err) !== 'ENOENT' || attempt === 3) throw err;
        }
      }
    } catch (err) {
      throw storageError('write', key, err);
    }
  }

  async delete(key: string, options?: StorageOptions): Promise<void> {
    assertKey(key);
    options?.signal?.throwIfAborted();
    const path = this.#path(key);
    try {
      await unlink(path);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      // A folder holds no value of its own: deleting it as a key has nothing to do.
      if (
        (code === 'EISDIR' || code === 'EPERM') &&
        (await stat(path).catch(() => undefined))?.isDirectory()
      ) {
        return;
      }
      throw storageError('delete', key, err);
    }
    try {
      await syncFolder(dirname(path));
    } catch (err) {
      throw storageError('delete', key, err);
    }
    await this.#removeEmptyFolders(dirname(path));
  }

  async list(prefix: string, options?: StorageOptions & { recursive?: boolean }): Promise<string[]> {
    assertPrefix(prefix);
    options?.signal?.throwIfAborted();
    const keys: string[] = [];
    try {
      await this.#collect(
        prefix === '' ? this.root : this.#path(prefix),
        prefix,
        options?.recursive === true,
        keys,
      );
    } catch (err) {
      throw storageError('list', prefix, err);
    }
    return keys.sort();
  }

  /** Waits for the lock file `<root>/.locks/<name>.lock`; see fs-lock.ts for leases and take-over. */
  async lock(name: string, options: StorageOptions & { ttlMs?: number } = {}): Promise<Lock> {
    assertKey(name);
    const ttlMs = lockTtl(options.ttlMs);
    options.signal?.throwIfAborted();
    try {
      await this.#init();
      await this.#ensureDir(this.#lockDir);
    } catch (err) {
      throw new LockError(`cannot prepare lock ${name}: ${errno(err) ?? String(err)}`, { cause: err });
    }
    const released = () => {
      for (const wake of [...this.#wakers]) wake();
    };
    const wakeSource = (wake: () => void) => {
      this.#wakers.add(wake);
      return () => this.#wakers.delete(wake);
    };
    return acquireWithBackoff(() => this.#locks.tryLock(name, ttlMs, released), options.signal, wakeSource);
  }

  #path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  /** Creates the root once (retried after a failure) and takes group/other access away from it. */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.root, { recursive: true, mode: DIR_MODE });
      const info = await stat(this.root);
      if ((info.mode & 0o077) !== 0) {
        // Never loosen; if we may not chmod (not the owner), carry on with what the admin chose.
        await chmod(this.root, info.mode & 0o700).catch(() => {});
      }
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  /** mkdir -p with exactly 0700 on every folder it creates (mkdir's own mode passes through the umask). */
  async #ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (first === undefined) return;
    for (let d = dir; d.length >= first.length && d.startsWith(this.root); d = dirname(d)) {
      await chmod(d, DIR_MODE);
    }
  }

  async #writeAtomically(path: string, value: Uint8Array): Promise<void> {
    await this.#ensureDir(dirname(path));
    await writeFileAtomic(path, value, { mode: FILE_MODE, tempName: tempName('tmp') });
  }

  /** Removes folders left empty by a delete, up to (not including) the root; stops at the first in use. */
  async #removeEmptyFolders(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(`${this.root}${sep}`); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  }

  /** Entries of a folder, or none when it does not exist (or is a file). */
  async #entries(dir: string) {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return [];
      throw err;
    }
  }

  async #collect(dir: string, prefix: string, recursive: boolean, keys: string[]): Promise<void> {
    for (const entry of await this.#entries(dir)) {
      const path = join(dir, entry.name);
      const key = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (!isSafeName(entry.name)) {
        // Ours (temporary files, .locks) or foreign: never a key. Crash leftovers are cleaned when old.
        if (entry.name.startsWith('~') && entry.isFile()) await this.#removeIfOld(path);
      } else if (entry.isFile()) {
        keys.push(key);
      } else if (entry.isDirectory()) {
        if (recursive) await this.#collect(path, key, true, keys);
        else if (await this.#holdsKey(path)) keys.push(key);
      }
    }
  }

  /** A folder counts as a child only when some key lies below it (not just leftovers). */
  async #holdsKey(dir: string): Promise<boolean> {
    for (const entry of await this.#entries(dir)) {
      if (!isSafeName(entry.name)) continue;
      if (entry.isFile()) return true;
      if (entry.isDirectory() && (await this.#holdsKey(join(dir, entry.name)))) return true;
    }
    return false;
  }

  async #removeIfOld(path: string): Promise<void> {
    const info = await stat(path).catch(() => undefined);
    if (info && this.#clock() - info.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => {});
  }
}
