// MemoryStorage: the conformance suite, plus what only memory does (peers sharing state, prompt wake-up).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { storageConformance } from './conformance.js';

storageConformance('MemoryStorage', async () => {
  const storage = new MemoryStorage();
  return {
    storage,
    cleanup: async () => {},
    peer: (skewMs: number) => new MemoryStorage({ sharedWith: storage, clock: () => Date.now() + skewMs }),
  };
});

describe('MemoryStorage', () => {
  it('instances without sharedWith are independent', async () => {
    const one = new MemoryStorage();
    const two = new MemoryStorage();
    await one.put('k', new Uint8Array([1]));
    assert.equal(await two.get('k'), undefined);
    const lock = await one.lock('issue/a');
    const other = await two.lock('issue/a', { signal: AbortSignal.timeout(1_000) });
    await Promise.all([lock.release(), other.release()]);
  });

  it('a lease expires by the clock when its holder stops renewing', async () => {
    let now = 1_000_000;
    const storage = new MemoryStorage({ clock: () => now });
    const old = await storage.lock('issue/c', { ttlMs: 60_000 }); // renews every 20 s: not during this test
    now += 60_001;
    const taken = await storage.lock('issue/c', { signal: AbortSignal.timeout(1_000) });
    assert.equal(old.lost.aborted, true);
    await old.release();
    assert.notEqual(taken.token, old.token);
    const blocked = storage.lock('issue/c', { signal: AbortSignal.timeout(100) });
    await assert.rejects(blocked, { name: 'TimeoutError' });
    await taken.release();
  });
});
