// A clock for unit tests: sleeping advances time at once and is recorded, so backoff is observable.
import type { Clock } from '../../../src/util/clock.js';

export class FakeClock implements Clock {
  time: number;
  readonly sleeps: number[] = [];

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.time += ms;
  }
}
