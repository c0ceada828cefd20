// A small typed event emitter: a map of event name to payload type, so emitters and listeners agree at
// compile time. Listener exceptions are contained: logging or metrics must never break the work.

export type EventMap = Record<string, unknown>;
export type Listener<T> = (payload: T) => void;

export class TypedEvents<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch {
        // A failing listener must not stop the others or the emitter.
      }
    }
  }
}
