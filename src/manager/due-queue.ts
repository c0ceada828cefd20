// When each certificate's next attempt comes: a min-heap of due times behind ONE sleep, and a bound on
// how many attempts run at once. One timer for 100,000 certificates instead of 100,000 sleeping loops
// (each of those cost ~4 KB of heap), and a burst of due certificates does not hit the CA all at once.
import type { Clock } from '../util/clock.js';

interface Slot<T> {
  readonly item: T;
  at: number;
}

export class DueQueue<T> {
  readonly #clock: Clock;
  readonly #run: (item: T) => Promise<void>;
  readonly #concurrency: number;
  readonly #heap: Slot<T>[] = [];
  readonly #positions = new Map<T, number>();
  #running = 0;
  #wake: AbortController | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(clock: Clock, run: (item: T) => Promise<void>, options: { concurrency: number }) {
    this.#clock = clock;
    this.#run = run;
    this.#concurrency = Math.max(1, options.concurrency);
  }

  /** Sets (or moves) the item's time; the loop picks it up when it comes. */
  schedule(item: T, at: number): void {
    const position = this.#positions.get(item);
    if (position === undefined) {
      this.#heap.push({ item, at });
      this.#positions.set(item, this.#heap.length - 1);
      this.#up(this.#heap.length - 1);
    } else {
      const slot = this.#heap[position]!;
      const earlier = at < slot.at;
      slot.at = at;
      if (earlier) this.#up(position);
      else this.#down(position);
    }
    if (this.#heap[0]?.item === item) this.#wakeUp();
  }

  cancel(item: T): void {
    const position = this.#positions.get(item);
    if (position === undefined) return;
    this.#removeAt(position);
  }

  has(item: T): boolean {
    return this.#positions.has(item);
  }

  start(): void {
    this.#loop ??= this.#serve();
  }

  /** Stops taking items; resolves when the attempts under way have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeUp();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  get size(): number {
    return this.#heap.length;
  }

  async #serve(): Promise<void> {
    while (!this.#stopped) {
      const head = this.#heap[0];
      const delay = head ? head.at - this.#clock.now() : Number.POSITIVE_INFINITY;
      if (head && delay <= 0 && this.#running < this.#concurrency) {
        this.#removeAt(0);
        this.#start(head.item);
        continue;
      }
      // Sleep until the head is due, something earlier is scheduled, a slot frees up, or stop().
      this.#wake = new AbortController();
      const wait = this.#running >= this.#concurrency || !head ? Number.POSITIVE_INFINITY : delay;
      await this.#sleep(wait, this.#wake.signal);
    }
  }

  #start(item: T): void {
    this.#running++;
    const attempt = this.#run(item)
      .catch(() => {
        // The runner reports its own failures; the queue only keeps the pace.
      })
      .finally(() => {
        this.#running--;
        this.#inFlight.delete(attempt);
        this.#wakeUp();
      });
    this.#inFlight.add(attempt);
  }

  async #sleep(ms: number, signal: AbortSignal): Promise<void> {
    try {
      if (ms === Number.POSITIVE_INFINITY) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      } else {
        await this.#clock.sleep(ms, signal);
      }
    } catch {
      // Woken early: the loop looks again.
    }
  }

  #wakeUp(): void {
    this.#wake?.abort();
  }

  #removeAt(position: number): void {
    const last = this.#heap.length - 1;
    const removed = this.#heap[position]!;
    this.#positions.delete(removed.item);
    if (position !== last) {
      const moved = this.#heap[last]!;
      this.#heap[position] = moved;
      this.#positions.set(moved.item, position);
      this.#heap.pop();
      this.#down(position);
      this.#up(position);
    } else {
      this.#heap.pop();
    }
  }

  #up(position: number): void {
    let index = position;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#heap[parent]!.at <= this.#heap[index]!.at) break;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #down(position: number): void {
    let index = position;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.#heap.length && this.#heap[left]!.at < this.#heap[smallest]!.at) smallest = left;
      if (right < this.#heap.length && this.#heap[right]!.at < this.#heap[smallest]!.at) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const slotA = this.#heap[a]!;
    const slotB = this.#heap[b]!;
    this.#heap[a] = slotB;
    this.#heap[b] = slotA;
    this.#positions.set(slotB.item, a);
    this.#positions.set(slotA.item, b);
  }
}
