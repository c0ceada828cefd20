// The answers pending right now for one challenge type, keyed by name (TLS-ALPN-01) or token (HTTP-01).
// An entry exists only between present() and cleanup(), and remembers which challenge put it there, so a
// late cleanup of an older challenge cannot remove the answer a newer one registered since.

interface Entry<T> {
  readonly keyAuthorization: string;
  readonly value: T;
}

export class PendingAnswers<T> {
  readonly #entries = new Map<string, Entry<T>>();

  get(key: string): T | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Registers the answer, replacing any earlier one: the newest challenge is the one the CA checks. */
  set(key: string, keyAuthorization: string, value: T): void {
    this.#entries.set(key, { keyAuthorization, value });
  }

  /** Removes the answer; with `keyAuthorization`, only if it is still that challenge's. Returns whether it did. */
  delete(key: string, keyAuthorization?: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry || (keyAuthorization !== undefined && entry.keyAuthorization !== keyAuthorization))
      return false;
    return this.#entries.delete(key);
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }
}
