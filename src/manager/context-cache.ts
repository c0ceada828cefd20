// A bounded cache of built SecureContexts (least recently used goes first). Building a context parses
// PEM and keys, so it is worth keeping for busy names, but holding one for each of 100,000 idle
// certificates would cost far more memory than the certificates themselves.
import type { SecureContext } from 'node:tls';

export class ContextCache {
  readonly #capacity: number;
  readonly #contexts = new Map<object, SecureContext>();
  readonly #loading = new Map<object, Promise<SecureContext | undefined>>();

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new TypeError('the context cache needs a capacity of at least 1');
    this.#capacity = capacity;
  }

  /** The cached context of `owner`, or the one `load` builds (concurrent callers share one load). */
  async get(
    owner: object,
    load: () => Promise<SecureContext | undefined>,
  ): Promise<SecureContext | undefined> {
    const cached = this.#contexts.get(owner);
    if (cached) {
      // Re-insert so Map order stays least-recently-used first.
      this.#contexts.delete(owner);
      this.#contexts.set(owner, cached);
      return cached;
    }
    let pending = this.#loading.get(owner);
    if (!pending) {
      pending = load().finally(() => this.#loading.delete(owner));
      this.#loading.set(owner, pending);
    }
    const context = await pending;
    if (context) this.put(owner, context);
    return context;
  }

  put(owner: object, context: SecureContext): void {
    this.#contexts.delete(owner);
    this.#contexts.set(owner, context);
    while (this.#contexts.size > this.#capacity) {
      const oldest = this.#contexts.keys().next().value;
      if (oldest === undefined) break;
      this.#contexts.delete(oldest);
    }
  }

  delete(owner: object): void {
    this.#contexts.delete(owner);
  }

  get size(): number {
    return this.#contexts.size;
  }
}
