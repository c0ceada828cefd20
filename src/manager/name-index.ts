// Which certificate answers a TLS client: by SNI name exactly, then by a wildcard covering it (one label
// deep, as RFC 6125 allows), then the certificate marked default. Names are normalized ASCII.

export class NameIndex<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcards = new Map<string, T>();
  #fallback: T | undefined;

  /** Adds `value` under each name; a later add for the same name wins (a renewal replacing its entry). */
  set(names: readonly string[], value: T, isDefault = false): void {
    for (const name of names) {
      if (name.startsWith('*.')) this.#wildcards.set(name.slice(2), value);
      else this.#exact.set(name, value);
    }
    if (isDefault) this.#fallback = value;
  }

  /** Removes the names, but only where they still point at `value`. */
  delete(names: readonly string[], value: T): void {
    for (const name of names) {
      const map = name.startsWith('*.') ? this.#wildcards : this.#exact;
      const key = name.startsWith('*.') ? name.slice(2) : name;
      if (map.get(key) === value) map.delete(key);
    }
    if (this.#fallback === value) this.#fallback = undefined;
  }

  /** The best match for a client's SNI name (undefined: no SNI), or undefined when nothing fits. */
  match(serverName: string | undefined): T | undefined {
    return this.matchExact(serverName) ?? this.#fallback;
  }

  /** Exact or wildcard match only, without falling back to the default. */
  matchExact(serverName: string | undefined): T | undefined {
    if (!serverName) return undefined;
    const name = serverName.toLowerCase().replace(/\.$/, '');
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.#wildcards.get(name.slice(dot + 1)) : undefined;
  }

  get fallback(): T | undefined {
    return this.#fallback;
  }
}

export function sameNameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name));
}

/** Whether a certificate for `names` is valid for a client's SNI name (exact, or one-label wildcard). */
export function covers(names: readonly string[], serverName: string): boolean {
  const name = serverName.toLowerCase().replace(/\.$/, '');
  const dot = name.indexOf('.');
  return names.includes(name) || (dot > 0 && names.includes(`*.${name.slice(dot + 1)}`));
}
