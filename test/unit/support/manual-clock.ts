// A clock whose time moves only when the test says so: sleepers wake in order as advance() passes
// their deadline, so schedulers can be driven step by step.
import type { Clock } from '../../../src/util/clock.js';

interface Sleeper {
  at: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  #time: number;
  #sleepers: Sleeper[] = [];

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#time = start;
  }

  now(): number {
    return this.#time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { at: this.#time + ms, resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward, waking every sleeper whose deadline is passed, and lets their work run. */
  async advance(ms: number): Promise<void> {
    const target = this.#time + ms;
    for (;;) {
      await settle();
      const next = this.#sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#time = Math.max(this.#time, next.at);
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.#time = target;
    await settle();
  }

  /** Deadlines of the current sleepers, soonest first. */
  get pending(): number[] {
    return this.#sleepers.map((s) => s.at).sort((a, b) => a - b);
  }
}

/** Lets queued promise callbacks and I/O callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
