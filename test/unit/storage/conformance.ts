// The one Storage conformance suite: every backend (memory, filesystem, later Redis and PostgreSQL) runs
// it through a factory, so that the manager can rely on the same semantics whatever holds the data.
// Lock tests check ordering (who got the lock first), not durations, so that they do not flake.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Lock, Storage } from '../../../src/storage/storage.js';

export interface StorageHarness {
  /** A fresh, empty store. */
  readonly storage: Storage;
  /** Frees everything the store used (folder, database, connection). */
  cleanup(): Promise<void>;
  /**
   * Another client of the same store ("another node") whose clock reads `skewMs` ahead. To it, a lease
   * that the first client keeps renewing has already run out: the case of a holder that stalled past its
   * ttl. Backends whose leases expire by the server's clock may instead make the lease expire here.
   * Without it, the take-over tests are skipped.
   */
  peer?(skewMs: number): Storage | Promise<Storage>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** Resolves when `signal` aborts, rejects if it has not within `ms` (a guard, not a measurement). */
function aborted(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`signal did not abort within ${ms} ms`)), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** True when `lock()` is still waiting after a short while (the holder keeps it). */
async function stillBusy(storage: Storage, name: string): Promise<boolean> {
  try {
    const lock = await storage.lock(name, { signal: AbortSignal.timeout(150) });
    await lock.release();
    return false;
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') return true;
    throw err;
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function storageConformance(label: string, factory: () => Promise<StorageHarness>): void {
  describe(`${label}: Storage conformance`, () => {
    let harness: StorageHarness;
    let storage: Storage;
    beforeEach(async () => {
      harness = await factory();
      storage = harness.storage;
    });
    afterEach(async () => {
      await harness.cleanup();
    });

    it('get of a missing key is undefined', async () => {
      assert.equal(await storage.get('missing'), undefined);
      assert.equal(await storage.get('no/such/folder/key.pem'), undefined);
    });

    it('put then get returns the same bytes, all 256 values and the empty value', async () => {
      const all = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      await storage.put('bin/all.der', all);
      await storage.put('bin/empty', new Uint8Array(0));
      const back = await storage.get('bin/all.der');
      assert.ok(back instanceof Uint8Array);
      assert.deepEqual([...back], [...all]);
      const empty = await storage.get('bin/empty');
      assert.ok(empty instanceof Uint8Array, 'an empty value exists: it is not undefined');
      assert.equal(empty.length, 0);
    });

    it('values are copied in and out', async () => {
      const value = bytes('original');
      await storage.put('copy/k', value);
      value.fill(0);
      const first = await storage.get('copy/k');
      first?.fill(0);
      assert.equal(text(await storage.get('copy/k')), 'original');
    });

    it('put overwrites', async () => {
      await storage.put('a/k', bytes('one'));
      await storage.put('a/k', bytes('two, longer than one'));
      await storage.put('a/k', bytes('3'));
      assert.equal(text(await storage.get('a/k')), '3');
    });

    it('delete removes a key and is idempotent', async () => {
      await storage.delete('never/there');
      await storage.put('d/e/k', bytes('x'));
      await storage.put('d/other', bytes('y'));
      await storage.delete('d/e/k');
      assert.equal(await storage.get('d/e/k'), undefined);
      await storage.delete('d/e/k');
      assert.deepEqual(await storage.list('d'), ['d/other'], 'a folder left empty is not listed');
      assert.deepEqual(await storage.list('', { recursive: true }), ['d/other']);
    });

    it('list gives direct children or, recursively, all keys, sorted and within the prefix', async () => {
      for (const key of ['a/b/x.pem', 'a/b/d/e.json', 'a/bc/f', 'a/a', 'a/b/0', 'a/b/_x', 'z', 'a0/q']) {
        await storage.put(key, bytes(key));
      }
      assert.deepEqual(await storage.list('a/b'), ['a/b/0', 'a/b/_x', 'a/b/d', 'a/b/x.pem']);
      assert.deepEqual(await storage.list('a/b', { recursive: true }), [
        'a/b/0',
        'a/b/_x',
        'a/b/d/e.json',
        'a/b/x.pem',
      ]);
      assert.deepEqual(await storage.list('a'), ['a/a', 'a/b', 'a/bc']);
      assert.deepEqual(await storage.list(''), ['a', 'a0', 'z']);
      assert.deepEqual(await storage.list('', { recursive: true }), [
        'a/a',
        'a/b/0',
        'a/b/_x',
        'a/b/d/e.json',
        'a/b/x.pem',
        'a/bc/f',
        'a0/q',
        'z',
      ]);
      assert.deepEqual(await storage.list('nothing'), []);
      assert.deepEqual(await storage.list('a/b/x.pem'), [], 'a key is not a folder');
      assert.deepEqual(await storage.list('a/b/d', { recursive: true }), ['a/b/d/e.json']);
    });

    it('rejects keys that could leave their folder, with TypeError', async () => {
      const bad = [
        '',
        '/abs',
        'a/',
        '../x',
        'a/../b',
        'a/./b',
        'a//b',
        '.',
        '..',
        'a\\b',
        'a\0b',
        '.hidden',
        'A/B',
      ];
      for (const key of bad) {
        await assert.rejects(storage.get(key), TypeError, `get ${JSON.stringify(key)}`);
        await assert.rejects(storage.put(key, bytes('x')), TypeError, `put ${JSON.stringify(key)}`);
        await assert.rejects(storage.delete(key), TypeError, `delete ${JSON.stringify(key)}`);
        await assert.rejects(storage.lock(key), TypeError, `lock ${JSON.stringify(key)}`);
        if (key !== '') await assert.rejects(storage.list(key), TypeError, `list ${JSON.stringify(key)}`);
      }
      await assert.rejects(storage.lock('ok', { ttlMs: 0 }), TypeError);
      assert.deepEqual(await storage.list('', { recursive: true }), []);
    });

    it('a lock excludes a second holder until released', async () => {
      const events: string[] = [];
      const first = await storage.lock('issue/example.org');
      const second = storage.lock('issue/example.org').then((lock) => {
        events.push('second acquired');
        return lock;
      });
      const other = await storage.lock('issue/example.net'); // another name is not blocked
      await other.release();
      await delay(100); // gives a broken implementation the chance to let the second one in
      events.push('first releasing');
      await first.release();
      const lock = await second;
      assert.deepEqual(events, ['first releasing', 'second acquired']);
      assert.notEqual(lock.token, first.token);
      assert.equal(first.lost.aborted, false, 'a release is not a loss');
      await lock.release();
    });

    it('many waiters take the lock one at a time', async () => {
      const clients = [storage, ...(harness.peer ? [await harness.peer(0), await harness.peer(0)] : [])];
      let inside = 0;
      let turns = 0;
      await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const lock = await clients[i % clients.length]!.lock('issue/busy', {
            signal: AbortSignal.timeout(20_000),
          });
          inside++;
          assert.equal(inside, 1, 'two holders at once');
          await delay(5);
          inside--;
          turns++;
          await lock.release();
        }),
      );
      assert.equal(turns, 8);
    });

    it('lock with an aborted signal rejects with its reason, also while waiting', async () => {
      const reason = new Error('stop');
      await assert.rejects(
        storage.lock('issue/x', { signal: AbortSignal.abort(reason) }),
        (err) => err === reason,
      );
      const held = await storage.lock('issue/x');
      const controller = new AbortController();
      const waiting = storage.lock('issue/x', { signal: controller.signal });
      await delay(30);
      controller.abort(reason);
      await assert.rejects(waiting, (err) => err === reason);
      await held.release();
      const again = await storage.lock('issue/x', { signal: AbortSignal.timeout(5_000) });
      await again.release();
    });

    it('release is idempotent and the lock can be taken again', async () => {
      const lock = await storage.lock('issue/y');
      await Promise.all([lock.release(), lock.release()]);
      await lock.release();
      const again = await storage.lock('issue/y', { signal: AbortSignal.timeout(5_000) });
      await again.release();
    });

    it('await using releases the lock', async () => {
      {
        await using lock = await storage.lock('issue/z');
        assert.equal(typeof lock.token, 'string');
        assert.equal(await stillBusy(storage, 'issue/z'), true);
      }
      const again = await storage.lock('issue/z', { signal: AbortSignal.timeout(5_000) });
      await again[Symbol.asyncDispose]();
      assert.equal(await stillBusy(storage, 'issue/z'), false);
    });

    it('a live holder keeps its lock past its ttl by renewing it', async () => {
      const lock = await storage.lock('issue/long', { ttlMs: 450 });
      await delay(1_200);
      assert.equal(await stillBusy(storage, 'issue/long'), true);
      assert.equal(lock.lost.aborted, false);
      await lock.release();
    });

    it('an expired lease is taken over; the old holder loses it and cannot free the new lock', async (t) => {
      if (!harness.peer) return t.skip('this backend offers no peer with a skewed clock');
      const old: Lock = await storage.lock('issue/t', { ttlMs: 300 });
      const peer = await harness.peer(5_000);
      const taken = await peer.lock('issue/t', { ttlMs: 300, signal: AbortSignal.timeout(5_000) });
      await aborted(old.lost, 5_000);
      assert.ok(old.lost.reason instanceof Error);
      await old.release(); // must not remove the new holder's lease
      assert.equal(await stillBusy(storage, 'issue/t'), true);
      assert.equal(taken.lost.aborted, false);
      await taken.release();
      const again = await storage.lock('issue/t', { signal: AbortSignal.timeout(5_000) });
      await again.release();
    });

    it('a peer sees the same values', async (t) => {
      if (!harness.peer) return t.skip('this backend offers no peer');
      const peer = await harness.peer(0);
      await storage.put('shared/k', bytes('v'));
      assert.equal(text(await peer.get('shared/k')), 'v');
    });
  });
}
