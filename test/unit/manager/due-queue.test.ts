import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DueQueue } from '../../../src/manager/due-queue.js';
import { ManualClock, settle } from '../support/manual-clock.js';

describe('DueQueue', () => {
  it('runs items in the order of their times, each when its time comes', async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const queue = new DueQueue<string>(clock, async (item) => void ran.push(item), { concurrency: 4 });
    const now = clock.now();
    queue.schedule('c', now + 300);
    queue.schedule('a', now + 100);
    queue.schedule('b', now + 200);
    queue.start();
    await clock.advance(150);
    assert.deepEqual(ran, ['a']);
    await clock.advance(200);
    assert.deepEqual(ran, ['a', 'b', 'c']);
    assert.equal(queue.size, 0);
    await queue.stop();
  });

  it('moves an item earlier or later, and forgets a cancelled one', async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const queue = new DueQueue<string>(clock, async (item) => void ran.push(item), { concurrency: 4 });
    const now = clock.now();
    queue.start();
    queue.schedule('late', now + 1000);
    queue.schedule('moved', now + 5000);
    queue.schedule('cancelled', now + 10);
    queue.cancel('cancelled');
    queue.schedule('moved', now + 50);
    await clock.advance(100);
    assert.deepEqual(ran, ['moved']);
    queue.schedule('late', now + 2000);
    await clock.advance(1000);
    assert.deepEqual(ran, ['moved']);
    await clock.advance(1000);
    assert.deepEqual(ran, ['moved', 'late']);
    await queue.stop();
  });

  it('never runs more items at once than its concurrency', async () => {
    const clock = new ManualClock();
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const queue = new DueQueue<number>(
      clock,
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i++) queue.schedule(i, clock.now());
    queue.start();
    await settle();
    assert.equal(running, 3);
    while (releases.length > 0) {
      releases.shift()?.();
      await settle();
    }
    assert.equal(most, 3);
    assert.equal(queue.size, 0);
    await queue.stop();
  });

  it('keeps one sleep for many items rather than one each', async () => {
    const clock = new ManualClock();
    const queue = new DueQueue<number>(clock, async () => {}, { concurrency: 2 });
    queue.start();
    for (let i = 0; i < 1000; i++) queue.schedule(i, clock.now() + 1000 + i);
    await settle();
    assert.equal(clock.pending.length, 1);
    await queue.stop();
  });
});
