// Lock files of FileStorage: one file per lock in <root>/.locks, holding {token, pid, hostname, ttlMs}.
// The lease ends at the file's mtime + ttlMs, so renewing only touches the mtime and never rewrites a
// file that a new holder may have just put in place. A lease is stale when it ran out, or when its
// holder is a dead process on this machine; a stale file is taken over one waiter at a time.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { link, open, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { LockError } from '../errors.js';
import { LeaseLock } from './lease.js';
import type { Lock } from './storage.js';

/** A take-over guard this old is left from a crash (a take-over takes milliseconds). */
const STALE_GUARD_MS = 30_000;

interface LockRecord {
  token: string;
  pid: number;
  hostname: string;
  /** Linux PID namespace of the holder: a PID is only checked for life inside the same namespace. */
  pidNamespace?: string;
  ttlMs: number;
}

/** One reading of a lock file: its exact text (to recognise it again), its parsed form, its mtime. */
interface SeenLock {
  raw: string;
  record: LockRecord | undefined;
  mtimeMs: number;
}

export function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/** A unique name for a file of our own; '~' never occurs in a key, so it can never be listed as one. */
export function tempName(suffix: string): string {
  return `~${randomBytes(8).toString('hex')}.${suffix}`;
}

function parseLockRecord(raw: string): LockRecord | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockRecord> | null;
    if (
      typeof value?.token === 'string' &&
      Number.isInteger(value.pid) &&
      typeof value.hostname === 'string' &&
      typeof value.ttlMs === 'number' &&
      value.ttlMs > 0
    ) {
      return value as LockRecord;
    }
  } catch {
    // unreadable: the caller treats it as a lock of unknown owner
  }
  return undefined;
}

/** Reads a lock file through one descriptor, so text and mtime belong to the same file. */
async function readLockFile(path: string): Promise<SeenLock | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const raw = await handle.readFile('utf8');
    const { mtimeMs } = await handle.stat();
    return { raw, record: parseLockRecord(raw), mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Removes the lock file only if it still is the one `isSame` recognises. It is renamed away first (one
 * atomic step), then checked: had another waiter just put its own file there, that file is put back.
 * (The read before it keeps the common case, someone else's lock, from being moved at all.)
 */
async function removeLockFileIf(path: string, isSame: (seen: SeenLock) => boolean): Promise<void> {
  const current = await readLockFile(path);
  if (current === undefined || !isSame(current)) return;
  const aside = join(dirname(path), tempName('dead'));
  try {
    await rename(path, aside);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await readLockFile(aside);
  if (moved !== undefined && !isSame(moved)) {
    await link(aside, path).catch((err: unknown) => {
      if (errno(err) !== 'EEXIST') throw err;
    });
  }
  await unlink(aside).catch(() => {});
}

export class LockFiles {
  readonly #dir: string;
  readonly #clock: () => number;
  readonly #host = hostname();
  readonly #pidNamespace: string | undefined;

  /** `dir` must exist (0700) before tryLock is called. */
  constructor(dir: string, clock: () => number) {
    this.#dir = dir;
    this.#clock = clock;
    try {
      this.#pidNamespace = readlinkSync('/proc/self/ns/pid');
    } catch {
      this.#pidNamespace = undefined; // not Linux: the hostname alone names the machine
    }
  }

  /**
   * One attempt: the lock, or undefined while someone else holds a live lease. `released` is called
   * after the lock this returns is given up (to wake waiters in this process without a poll).
   */
  async tryLock(name: string, ttlMs: number, released?: () => void): Promise<Lock | undefined> {
    const path = this.#path(name);
    const token = randomUUID();
    const record: LockRecord = { token, pid: process.pid, hostname: this.#host, ttlMs };
    if (this.#pidNamespace !== undefined) record.pidNamespace = this.#pidNamespace;
    // Written whole first, then hard-linked into place: link() fails when the lock file exists (like
    // O_EXCL), and nobody can ever read a half-written lock file.
    const temp = join(this.#dir, tempName('tmp'));
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify(record));
        const now = new Date(this.#clock());
        await handle.utimes(now, now);
      } finally {
        await handle.close();
      }
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await link(temp, path);
          return new LeaseLock(name, token, ttlMs, this.#clock, {
            renew: () => this.#renew(path, token),
            remove: async () => {
              await removeLockFileIf(path, (seen) => seen.record?.token === token);
              released?.();
            },
          });
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
        }
        const seen = await readLockFile(path);
        if (seen === undefined) continue; // released in between: try again at once
        if (!this.#isStale(seen, ttlMs)) return undefined;
        await this.#takeOver(path, seen);
      }
      return undefined;
    } catch (err) {
      throw new LockError(`cannot take lock ${name}: ${errno(err) ?? String(err)}`, { cause: err });
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  /** One flat file per lock name ('/' becomes '~'); very long names become a digest. */
  #path(name: string): string {
    const flat = name.replaceAll('/', '~');
    const file = flat.length <= 200 ? flat : `~${createHash('sha256').update(name).digest('hex')}`;
    return join(this.#dir, `${file}.lock`);
  }

  async #renew(path: string, token: string): Promise<true | string> {
    let seen = await readLockFile(path);
    if (seen === undefined) {
      // Another client may have moved it aside for a moment to check it (removeLockFileIf): look again.
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await readLockFile(path);
    }
    if (seen === undefined) return 'its lock file was removed';
    if (seen.record?.token !== token) return 'another holder took it over';
    // Should another holder replace the file between the read and this touch, we only lengthen its
    // lease a little; we never overwrite it.
    const now = new Date(this.#clock());
    try {
      await utimes(path, now, now);
    } catch (err) {
      if (errno(err) === 'ENOENT') return 'its lock file was removed';
      throw err;
    }
    return true;
  }

  /** Stale: the lease ran out, or its holder is a dead process on this machine. */
  #isStale(seen: SeenLock, ttlMs: number): boolean {
    const { record } = seen;
    // An unreadable lock file (a crash before its data reached the disk) is abandoned once it is old.
    if (record === undefined) return this.#clock() > seen.mtimeMs + ttlMs;
    if (this.#clock() > seen.mtimeMs + record.ttlMs) return true;
    if (record.hostname !== this.#host || record.pidNamespace !== this.#pidNamespace) return false;
    if (record.pid === process.pid) return false;
    try {
      process.kill(record.pid, 0);
      return false;
    } catch (err) {
      return errno(err) === 'ESRCH'; // EPERM: alive, only not ours to signal
    }
  }

  /** Removes a stale lock file, one waiter at a time (a guard file), and only if it did not change. */
  async #takeOver(path: string, seen: SeenLock): Promise<void> {
    const guard = `${path}.takeover`;
    try {
      await (await open(guard, 'wx', 0o600)).close();
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      const info = await stat(guard).catch(() => undefined);
      if (info && this.#clock() - info.mtimeMs > STALE_GUARD_MS) await unlink(guard).catch(() => {});
      return; // another waiter is taking over; look again on the next poll
    }
    try {
      const again = await readLockFile(path);
      if (again === undefined || again.raw !== seen.raw || again.mtimeMs !== seen.mtimeMs) return;
      await removeLockFileIf(path, (moved) => moved.raw === seen.raw);
    } finally {
      await unlink(guard).catch(() => {});
    }
  }
}
