// A pool of anti-replay nonces (RFC 8555 section 7.2): every Replay-Nonce the server sends is kept for
// the next signed request, so a fresh HEAD newNonce is needed only when the pool runs dry.
import { AcmeProtocolError } from '../errors.js';

/** Enough for the concurrency we use; older nonces are the likeliest to have expired, so they go first. */
const MAX_POOLED_NONCES = 64;

export class NoncePool {
  readonly #nonces: string[] = [];
  readonly #refill: (signal: AbortSignal) => Promise<void>;

  /** `refill` asks the server for a nonce (HEAD newNonce); the answer reaches the pool through add(). */
  constructor(refill: (signal: AbortSignal) => Promise<void>) {
    this.#refill = refill;
  }

  add(nonce: string): void {
    this.#nonces.push(nonce);
    if (this.#nonces.length > MAX_POOLED_NONCES) this.#nonces.shift();
  }

  /** The newest pooled nonce, or a freshly fetched one. Each nonce is handed out once. */
  async take(signal: AbortSignal): Promise<string> {
    const pooled = this.#nonces.pop();
    if (pooled !== undefined) return pooled;
    await this.#refill(signal);
    const fresh = this.#nonces.pop();
    if (fresh === undefined)
      throw new AcmeProtocolError('the newNonce resource returned no Replay-Nonce header');
    return fresh;
  }

  get size(): number {
    return this.#nonces.length;
  }
}
