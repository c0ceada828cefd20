// HTTP for ACME: one request with the retries RFC 8555 expects a client to make on its own — network
// failures and 5xx with exponential backoff and jitter (honouring Retry-After), badNonce at once with a
// fresh nonce — and problem documents turned into AcmeProblemError. Requests are rebuilt on every
// attempt because a signed POST must carry a new nonce each time.
import { AcmeProblemError, AcmeProtocolError, NetworkError, type ProblemDocument } from '../errors.js';
import { backoffDelay, type Clock, parseRetryAfter, systemClock } from '../util/clock.js';
import { VERSION } from '../version.js';
import { nodeFetch } from './fetch.js';

/** The part of a fetch Response we use; nodeFetch (fetch.ts), the global fetch and undici's all fit. */
export interface HttpResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface HttpRequestInit {
  method: 'GET' | 'HEAD' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export type FetchLike = (url: string, init: HttpRequestInit) => Promise<HttpResponseLike>;

export interface RetryPolicy {
  /** Attempts after the first for network failures and 5xx. */
  readonly retries: number;
  /** Extra attempts for badNonce, which costs nothing but a round trip. */
  readonly badNonceRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited for inside a request: the error goes to the caller. */
  readonly maxRetryAfterMs: number;
  /** Bound of a single HTTP exchange. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  badNonceRetries: 16,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  requestTimeoutMs: 30_000,
};

export interface AcmeResponse {
  readonly url: string;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: Buffer;
}

export interface AcmeHttpOptions {
  fetch?: FetchLike;
  clock?: Clock;
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Called with every Replay-Nonce the server sends, whatever the status. */
  onNonce?: (nonce: string) => void;
}

export const DEFAULT_USER_AGENT = `tlsward/${VERSION} (+https://www.npmjs.com/package/tlsward) node/${process.versions.node}`;

export class AcmeHttp {
  readonly #fetch: FetchLike;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryPolicy;
  readonly #userAgent: string;
  readonly #onNonce: (nonce: string) => void;

  constructor(options: AcmeHttpOptions = {}) {
    this.#fetch = options.fetch ?? nodeFetch();
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#onNonce = options.onNonce ?? (() => {});
  }

  get clock(): Clock {
    return this.#clock;
  }

  /**
   * Sends a request built by `build` (called again for every attempt) and returns a 2xx/3xx response.
   * Throws AcmeProblemError for an error status, NetworkError when the server stays unreachable.
   */
  async send(
    url: string,
    build: () => HttpRequestInit | Promise<HttpRequestInit>,
    signal: AbortSignal,
  ): Promise<AcmeResponse> {
    let failures = 0;
    let badNonces = 0;
    for (;;) {
      signal.throwIfAborted();
      const init = await build();
      let response: AcmeResponse;
      try {
        response = await this.#exchange(url, init, signal);
      } catch (error) {
        signal.throwIfAborted();
        if (failures >= this.#retry.retries) {
          throw new NetworkError(
            `${init.method} ${url} failed after ${failures + 1} attempts: ${describe(error)}`,
            error,
          );
        }
        await this.#clock.sleep(this.#backoff(failures++), signal);
        continue;
      }
      if (response.status < 400) return response;

      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.#clock.now());
      const problem = new AcmeProblemError(parseProblem(response), {
        ...(retryAfter ? { retryAfter } : {}),
        context: `${init.method} ${url} returned ${response.status}`,
      });
      if (problem.shortType === 'badNonce' && badNonces < this.#retry.badNonceRetries) {
        badNonces++;
        continue;
      }
      if (response.status >= 500 && failures < this.#retry.retries) {
        const wait = retryAfter ? retryAfter.getTime() - this.#clock.now() : this.#backoff(failures);
        if (wait <= this.#retry.maxRetryAfterMs) {
          failures++;
          await this.#clock.sleep(Math.max(0, wait), signal);
          continue;
        }
      }
      throw problem;
    }
  }

  async #exchange(url: string, init: HttpRequestInit, signal: AbortSignal): Promise<AcmeResponse> {
    const response = await this.#fetch(url, {
      ...init,
      headers: { 'user-agent': this.#userAgent, 'accept-language': 'en', ...init.headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.#retry.requestTimeoutMs)]),
    });
    const body = Buffer.from(await response.arrayBuffer());
    const nonce = response.headers.get('replay-nonce');
    if (nonce) this.#onNonce(nonce);
    return { url, status: response.status, headers: response.headers, body };
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, this.#retry.baseDelayMs, this.#retry.maxDelayMs, this.#random);
  }
}

function parseProblem(response: AcmeResponse): ProblemDocument {
  try {
    const parsed = JSON.parse(response.body.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object')
      return { status: response.status, ...(parsed as ProblemDocument) };
  } catch {
    // Not JSON (a proxy's HTML error page, say): fall through to a synthetic problem.
  }
  const text = response.body.toString('utf8').slice(0, 200).trim();
  return { type: 'about:blank', status: response.status, detail: text || `HTTP ${response.status}` };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Parses a JSON response body, naming the URL when the CA sent something else. */
export function parseJson<T>(response: AcmeResponse): T {
  try {
    return JSON.parse(response.body.toString('utf8')) as T;
  } catch (error) {
    throw new AcmeProtocolError(`${response.url} did not return JSON`, { cause: error });
  }
}

/** The targets of `Link` headers with the given relation (RFC 8288), resolved against the response URL. */
export function linkTargets(response: AcmeResponse, relation: string): string[] {
  const header = response.headers.get('link');
  if (!header) return [];
  const targets: string[] = [];
  // fetch joins repeated Link headers with ", "; each link is "<uri>; param; param".
  for (const match of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(params);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes(relation.toLowerCase())) targets.push(new URL(match[1] ?? '', response.url).href);
  }
  return targets;
}
