import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, parseRetryAfter, systemClock } from '../../../src/util/clock.js';

describe('the system clock', () => {
  it('does not wake early from a sleep longer than a Node timer can hold (~24.8 days)', async () => {
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60 * 86_400_000, controller.signal).then(
      () => 'woke',
      () => 'aborted',
    );
    const first = await Promise.race([
      sleeping,
      new Promise((resolve) => setTimeout(resolve, 200, 'asleep')),
    ]);
    controller.abort();
    assert.equal(first, 'asleep');
    assert.equal(await sleeping, 'aborted');
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now)?.toISOString(), '2026-01-01T00:02:00.000Z');
    assert.equal(
      parseRetryAfter('Thu, 01 Jan 2026 01:00:00 GMT', now)?.toISOString(),
      '2026-01-01T01:00:00.000Z',
    );
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  it('backs off exponentially with jitter between half and all of the capped delay', () => {
    assert.equal(
      backoffDelay(0, 100, 1000, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(3, 100, 1000, () => 1),
      800,
    );
    assert.equal(
      backoffDelay(10, 100, 1000, () => 1),
      1000,
    );
  });
});
