// The plumbing of Cloudflare's REST API v4 that the DNS provider (cloudflare.ts) stands on: one call with
// an API token (`Authorization: Bearer`), a timeout per HTTP exchange, and retries of 429, 5xx and
// network failures with exponential backoff or Retry-After. Every response is the documented envelope
// `{ success, errors, messages, result, result_info }`; a failure becomes a CloudflareError naming what
// was being done, the record and Cloudflare's error codes, never the token. 429 and 5xx that persist
// stay retryable. Error codes the caller expects (e.g. "already exists") come back instead of throwing.
import { TlswardError } from '../../errors.js';
import { backoffDelay, type Clock, parseRetryAfter } from '../../util/clock.js';

export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';

/** The part of fetch() used here; the global fetch fits, and so does a test double. */
export type CloudflareFetch = (
  url: string,
  init: {
    method: 'GET' | 'POST' | 'DELETE';
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  },
) => Promise<{
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** One entry of Cloudflare's `errors` (or `messages`) array. */
export interface CloudflareMessage {
  readonly code: number;
  readonly message: string;
  readonly error_chain?: readonly CloudflareMessage[];
}

export type CloudflareErrorKind =
  /** Cloudflare answered with an HTTP error status or `success: false`. */
  | 'api'
  /** The API could not be reached or the connection broke. */
  | 'network'
  /** No answer within the request timeout. */
  | 'timeout'
  /** The answer was not the documented JSON envelope. */
  | 'protocol'
  /** No zone of this token holds the name. */
  | 'zone';

/** A failed Cloudflare API call: what we were doing, the HTTP status and Cloudflare's own errors. */
export class CloudflareError extends TlswardError {
  readonly kind: CloudflareErrorKind;
  /** HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** Cloudflare's `errors`, e.g. `[{ code: 9109, message: 'Invalid access token' }]`. */
  readonly errors: readonly CloudflareMessage[];
  /** The record involved, e.g. `TXT _acme-challenge.example.org`. */
  readonly record: string | undefined;
  readonly zone: string | undefined;
  /** When Cloudflare said (Retry-After) that trying again makes sense. */
  readonly retryAfter: Date | undefined;

  constructor(
    kind: CloudflareErrorKind,
    message: string,
    details: {
      status?: number;
      errors?: readonly CloudflareMessage[];
      record?: string;
      zone?: string;
      retryAfter?: Date;
      cause?: unknown;
    } = {},
  ) {
    const status = details.status;
    const retryable =
      kind === 'network' ||
      kind === 'timeout' ||
      // A 5xx whose body is an HTML page from a proxy is as passing as one in Cloudflare's envelope.
      ((kind === 'api' || kind === 'protocol') && status !== undefined && (status === 429 || status >= 500));
    const code = kind === 'network' ? 'NETWORK' : kind === 'timeout' ? 'TIMEOUT' : 'DNS';
    super(code, message, { retryable, cause: details.cause });
    this.kind = kind;
    this.status = status;
    this.errors = details.errors ?? [];
    this.record = details.record;
    this.zone = details.zone;
    this.retryAfter = details.retryAfter;
  }

  /** True when Cloudflare refused the credentials (bad, expired or insufficient token). */
  get authentication(): boolean {
    return this.status === 401 || this.status === 403 || this.errors.some((e) => AUTH_CODES.has(e.code));
  }
}

/** Error codes about the token itself: 6003/6111 malformed header, 9109 invalid token, 10000 authentication. */
const AUTH_CODES = new Set([6003, 6111, 9109, 10000, 1000]);

interface Envelope {
  success: boolean;
  errors: CloudflareMessage[];
  messages: CloudflareMessage[];
  result: unknown;
  result_info?: {
    page?: number;
    per_page?: number;
    count?: number;
    total_count?: number;
    total_pages?: number;
  };
}

/** An answer of the API: its HTTP status and envelope. */
export interface ApiResponse {
  readonly status: number;
  readonly envelope: Envelope;
}

/** What a call is for, so that its errors can say so. */
export interface CallContext {
  /** For messages: `creating TXT "v" at _acme-challenge.example.org`. */
  readonly action: string;
  readonly record?: string;
  readonly zone?: string;
  /** Error codes that are an expected answer rather than a failure (returned, not thrown). */
  readonly expected?: ReadonlySet<number>;
}

/** How to reach the API; validated and defaulted by the caller (CloudflareProvider). */
export interface CloudflareApiSettings {
  /** API token, trimmed. Secret. */
  readonly token: string;
  /** Without a trailing slash, e.g. https://api.cloudflare.com/client/v4. */
  readonly baseUrl: string;
  /** Host of baseUrl, for messages. */
  readonly host: string;
  readonly fetch: CloudflareFetch;
  /** Bound of one HTTP exchange. */
  readonly timeoutMs: number;
  /** Extra attempts after a 429, a 5xx or a network failure. */
  readonly retries: number;
  /** Base of the exponential backoff between attempts. */
  readonly retryDelayMs: number;
  /** A Retry-After longer than this is not waited for; the error goes to the caller. */
  readonly maxRetryAfterMs: number;
  readonly clock: Clock;
}

/** A client of Cloudflare's API v4: calls with retries, envelopes parsed, failures as CloudflareErrors. */
export class CloudflareApi {
  readonly #token: string;
  readonly #baseUrl: string;
  readonly #host: string;
  readonly #fetch: CloudflareFetch;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #clock: Clock;

  constructor(settings: CloudflareApiSettings) {
    this.#token = settings.token;
    this.#baseUrl = settings.baseUrl;
    this.#host = settings.host;
    this.#fetch = settings.fetch;
    this.#timeoutMs = settings.timeoutMs;
    this.#retries = settings.retries;
    this.#retryDelayMs = settings.retryDelayMs;
    this.#maxRetryAfterMs = settings.maxRetryAfterMs;
    this.#clock = settings.clock;
  }

  /**
   * One API call with retries for 429, 5xx and network failures. Resolves with a successful envelope,
   * or an unsuccessful one whose error codes are all in `context.expected`; throws otherwise.
   */
  async call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: unknown,
    context: CallContext,
    signal: AbortSignal,
  ): Promise<ApiResponse> {
    for (let attempt = 0; ; attempt++) {
      let failure: CloudflareError;
      try {
        const response = await this.#exchange(method, path, body, context, signal);
        if (response.envelope.success && response.status < 400) return response;
        const codes = response.envelope.errors.map((e) => e.code);
        if (codes.length > 0 && context.expected && codes.every((code) => context.expected?.has(code)))
          return { ...response, envelope: { ...response.envelope, success: false } };
        failure = this.error(context, response);
      } catch (error) {
        if (!(error instanceof CloudflareError)) throw error;
        failure = error;
      }
      if (!failure.retryable || attempt >= this.#retries) throw failure;
      const wait = failure.retryAfter
        ? failure.retryAfter.getTime() - this.#clock.now()
        : backoffDelay(attempt, this.#retryDelayMs, this.#retryDelayMs * 8);
      if (wait > this.#maxRetryAfterMs) throw failure;
      await this.#clock.sleep(Math.max(0, wait), signal);
    }
  }

  /** The CloudflareError for an unsuccessful answer: Cloudflare's errors, a hint about the token if due. */
  error(context: CallContext, response: ApiResponse & { retryAfter?: Date }): CloudflareError {
    const errors = response.envelope.errors;
    const described = errors.length > 0 ? errors.map(describeMessage).join('; ') : 'no error given';
    const hint =
      response.status === 401 || response.status === 403 || errors.some((e) => AUTH_CODES.has(e.code))
        ? ' (check the API token: it must be valid and have Zone:Read and DNS:Edit on this zone)'
        : '';
    return new CloudflareError(
      'api',
      this.#redact(`cloudflare: ${context.action} failed: HTTP ${response.status}: ${described}${hint}`),
      {
        status: response.status,
        errors,
        ...(context.record ? { record: context.record } : {}),
        ...(context.zone ? { zone: context.zone } : {}),
        ...(response.retryAfter ? { retryAfter: response.retryAfter } : {}),
      },
    );
  }

  /** One HTTP exchange and its envelope; transport failures become CloudflareErrors. */
  async #exchange(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: unknown,
    context: CallContext,
    signal: AbortSignal,
  ): Promise<ApiResponse & { retryAfter?: Date }> {
    signal.throwIfAborted();
    const url = `${this.#baseUrl}${path}`;
    // A timer of our own rather than AbortSignal.timeout(), which does not keep the process alive.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#timeoutMs);
    const combined = AbortSignal.any([signal, timeout.signal]);
    const where = {
      ...(context.record ? { record: context.record } : {}),
      ...(context.zone ? { zone: context.zone } : {}),
    };
    let status: number;
    let text: string;
    let retryAfterHeader: string | null;
    try {
      const response = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
      status = response.status;
      retryAfterHeader = response.headers.get('retry-after');
      text = Buffer.from(await response.arrayBuffer()).toString('utf8');
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (timeout.signal.aborted)
        throw new CloudflareError(
          'timeout',
          `cloudflare: ${context.action}: no answer from ${this.#host} within ${this.#timeoutMs} ms`,
          where,
        );
      throw new CloudflareError(
        'network',
        `cloudflare: ${context.action}: ${method} ${this.#redact(url)} failed: ${this.#redact(describeNetworkError(error))}`,
        { ...where, cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(JSON.parse(text));
    } catch {
      const snippet = this.#redact(text.replace(/\s+/g, ' ').trim().slice(0, 200));
      throw new CloudflareError(
        'protocol',
        `cloudflare: ${context.action}: HTTP ${status} with a body that is not Cloudflare's JSON envelope: ${snippet || '(empty)'}`,
        { ...where, status },
      );
    }
    const retryAfter = parseRetryAfter(retryAfterHeader, this.#clock.now());
    return { status, envelope, ...(retryAfter ? { retryAfter } : {}) };
  }

  /** Never let the token into a message, even if a server or proxy echoes it back. */
  #redact(text: string): string {
    return text.split(this.#token).join('[token]');
  }
}

/** The items of an array `result`, each kept (or dropped) by `pick`; none if `result` is not an array. */
export function arrayResult<T>(response: ApiResponse, pick: (item: unknown) => T[]): T[] {
  const result = response.envelope.result;
  return Array.isArray(result) ? result.flatMap(pick) : [];
}

function describeMessage(message: CloudflareMessage): string {
  const chain = message.error_chain?.length
    ? ` (${message.error_chain.map(describeMessage).join('; ')})`
    : '';
  return `${message.code} ${message.message}${chain}`;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code === 'ECONNRESET') return 'connection reset';
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

function parseEnvelope(json: unknown): Envelope {
  if (typeof json !== 'object' || json === null) throw new TypeError('not an object');
  const object = json as Record<string, unknown>;
  if (typeof object.success !== 'boolean') throw new TypeError('no success');
  const messages = (value: unknown): CloudflareMessage[] =>
    Array.isArray(value)
      ? value.flatMap((entry) => {
          if (typeof entry !== 'object' || entry === null) return [];
          const { code, message, error_chain } = entry as Record<string, unknown>;
          return [
            {
              code: typeof code === 'number' ? code : Number(code) || 0,
              message: typeof message === 'string' ? message : '',
              ...(Array.isArray(error_chain) ? { error_chain: messages(error_chain) } : {}),
            },
          ];
        })
      : [];
  return {
    success: object.success,
    errors: messages(object.errors),
    messages: messages(object.messages),
    result: object.result,
    ...(typeof object.result_info === 'object' && object.result_info !== null
      ? { result_info: object.result_info as NonNullable<Envelope['result_info']> }
      : {}),
  };
}
