// A DNS provider for Cloudflare's REST API v4 with an API token (`Authorization: Bearer`; the token
// needs Zone:Read to find zones and DNS:Edit to change them). The zone is found by walking up the record
// name with `GET /zones?name=<candidate>` (or given); a value is added with `POST /zones/{id}/dns_records`
// and removed by listing the TXT records at the name and deleting the one holding our value by its id,
// so the other values of the set (a name and its wildcard) stay. Content is sent as the bare value:
// Cloudflare accepts unquoted TXT content, and a value that comes back quoted is still recognised.
// Every response is the documented envelope `{ success, errors, messages, result, result_info }`; a
// failure becomes a CloudflareError naming the record and Cloudflare's error codes, never the token.
// 429 and 5xx are retried a few times (honouring Retry-After) and stay retryable if they persist.
import { TlswardError } from '../../errors.js';
import { backoffDelay, type Clock, parseRetryAfter, systemClock } from '../../util/clock.js';
import type { DnsProvider, TxtRecord } from './provider.js';
import { canonicalName, isSubdomain } from './wire.js';

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

export interface CloudflareProviderOptions {
  /** API token (Zone:Read and DNS:Edit on the zones involved). Secret. */
  readonly token: string;
  /** Default https://api.cloudflare.com/client/v4 (tests point it at a local stand-in). */
  readonly baseUrl?: string;
  /** Skip the zone lookup (then Zone:Read is not needed); every record must be in this zone. */
  readonly zoneId?: string;
  readonly fetch?: CloudflareFetch;
  /** TTL of added records when the record has none; Cloudflare takes 60..86400 (1 = automatic). Default 60. */
  readonly ttl?: number;
  /** Bound of one HTTP exchange. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Extra attempts after a 429, a 5xx or a network failure. Default 2. */
  readonly retries?: number;
  /** Base of the exponential backoff between attempts. Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** A Retry-After longer than this is not waited for; the error goes to the caller. Default 30 000 ms. */
  readonly maxRetryAfterMs?: number;
  readonly clock?: Clock;
}

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
    const code = kind === 'network' ? 'NETWORK' : kind === 'timeout' ? 'TIMEOUT' : 'CHALLENGE_FAILED';
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
/** "Record already exists." / "An identical record already exists.": the value may be there already. */
const ALREADY_EXISTS_CODES = new Set([81057, 81058]);
/** "Record does not exist.": removing an absent value is not an error. */
const NOT_FOUND_CODES = new Set([81044]);

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

interface ApiResponse {
  readonly status: number;
  readonly envelope: Envelope;
}

/** A zone as this provider uses it: its id and (lowercase) name. */
export interface CloudflareZone {
  readonly id: string;
  readonly name: string;
}

/** What we keep of a DNS record object. */
interface DnsRecord {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly content: string;
}

interface CallContext {
  /** For messages: `creating TXT "v" at _acme-challenge.example.org`. */
  readonly action: string;
  readonly record?: string;
  readonly zone?: string;
  /** Error codes that are an expected answer rather than a failure (returned, not thrown). */
  readonly expected?: ReadonlySet<number>;
}

const RECORDS_PER_PAGE = 100;
const ZONE_CACHE_MS = 60 * 60 * 1000;
const ZONE_CACHE_MAX = 1000;
/** More TXT values than this at one challenge name would be a leak, not a working zone. */
const MAX_PAGES = 50;

export class CloudflareProvider implements DnsProvider {
  readonly name: string;
  readonly #host: string;
  readonly #token: string;
  readonly #baseUrl: string;
  readonly #zoneId: string | undefined;
  readonly #fetch: CloudflareFetch;
  readonly #ttl: number;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #clock: Clock;
  /**
   * The zone found for each record name, so that cleanup does not walk again what present() just
   * walked. Entries expire, so that a zone deleted and added again (new id) is found again.
   */
  readonly #zoneCache = new Map<string, { zone: CloudflareZone; at: number }>();

  constructor(options: CloudflareProviderOptions) {
    if (typeof options.token !== 'string' || options.token.trim() === '')
      throw new TypeError('cloudflare: an API token is required');
    if (/\s/.test(options.token.trim()))
      throw new TypeError('cloudflare: the API token contains white space (the value is not shown)');
    const baseUrl = (options.baseUrl ?? CLOUDFLARE_API).replace(/\/+$/, '');
    let host: string;
    try {
      const url = new URL(baseUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(url.protocol);
      host = url.host;
    } catch {
      throw new TypeError(`cloudflare: baseUrl ${JSON.stringify(baseUrl)} is not an http(s) URL`);
    }
    if (options.zoneId !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(options.zoneId))
      throw new TypeError(`cloudflare: zoneId ${JSON.stringify(options.zoneId)} is not a zone identifier`);
    const ttl = options.ttl ?? 60;
    if (!Number.isInteger(ttl) || (ttl !== 1 && (ttl < 30 || ttl > 86_400)))
      throw new TypeError(`cloudflare: ttl must be 1 (automatic) or 30..86400 seconds, not ${options.ttl}`);
    for (const key of ['requestTimeoutMs', 'retryDelayMs', 'maxRetryAfterMs'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isFinite(value) && value > 0))
        throw new TypeError(`cloudflare: ${key} must be a positive number, not ${value}`);
    }
    if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0))
      throw new TypeError(`cloudflare: retries must be an integer >= 0, not ${options.retries}`);
    this.name = `cloudflare ${host}`;
    this.#host = host;
    this.#token = options.token.trim();
    this.#baseUrl = baseUrl;
    this.#zoneId = options.zoneId;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#ttl = ttl;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#retries = options.retries ?? 2;
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.#clock = options.clock ?? systemClock;
  }

  async addTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    const name = canonicalName(record.name);
    const zone = await this.zoneFor(record, signal);
    const label = `TXT ${name}`;
    const context = {
      action: `creating TXT "${record.value}" at ${name} in zone ${zone.name}`,
      record: label,
      zone: zone.name,
      expected: ALREADY_EXISTS_CODES,
    };
    const response = await this.#call(
      'POST',
      `/zones/${encodeURIComponent(zone.id)}/dns_records`,
      { type: 'TXT', name, content: record.value, ttl: cloudflareTtl(record.ttl ?? this.#ttl) },
      context,
      signal,
    );
    if (response.envelope.success) return;
    // "Already exists": fine if it is our value (a retried POST, or a name and its wildcard sharing it).
    const existing = await this.#findValue(zone, name, record.value, signal);
    if (existing.length > 0) return;
    throw this.#apiError(context, response);
  }

  async removeTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    const name = canonicalName(record.name);
    const zone = await this.zoneFor(record, signal);
    for (const found of await this.#findValue(zone, name, record.value, signal)) {
      await this.#call(
        'DELETE',
        `/zones/${encodeURIComponent(zone.id)}/dns_records/${encodeURIComponent(found.id)}`,
        undefined,
        {
          action: `deleting TXT "${record.value}" at ${name} (record ${found.id}) in zone ${zone.name}`,
          record: `TXT ${name}`,
          zone: zone.name,
          // Deleted meanwhile (by a retried DELETE, or another node): what we wanted.
          expected: NOT_FOUND_CODES,
        },
        signal,
      );
    }
  }

  /**
   * The Cloudflare zone holding `record.name`: the configured zoneId, else the zone named by the record,
   * else the longest suffix of the name that `GET /zones?name=` knows.
   */
  async zoneFor(record: Pick<TxtRecord, 'name' | 'zone'>, signal: AbortSignal): Promise<CloudflareZone> {
    const name = canonicalName(record.name);
    if (record.zone !== undefined && !isSubdomain(name, record.zone))
      throw new CloudflareError('zone', `cloudflare: ${name} is not inside zone ${record.zone}`, {
        record: `TXT ${name}`,
        zone: canonicalName(record.zone),
      });
    if (this.#zoneId !== undefined) return { id: this.#zoneId, name: record.zone ?? `id ${this.#zoneId}` };
    const candidates =
      record.zone !== undefined ? [canonicalName(record.zone)] : parentNames(name).filter(hasTwoLabels);
    const key = `${name}\n${candidates[0]}`;
    const cached = this.#zoneCache.get(key);
    if (cached && this.#clock.now() - cached.at < ZONE_CACHE_MS) return cached.zone;
    for (const candidate of candidates) {
      const zone = await this.#zoneNamed(candidate, name, signal);
      if (!zone) continue;
      if (this.#zoneCache.size >= ZONE_CACHE_MAX) this.#zoneCache.clear();
      this.#zoneCache.set(key, { zone, at: this.#clock.now() });
      return zone;
    }
    throw new CloudflareError(
      'zone',
      `cloudflare: no zone holding ${name} is visible to this token (asked for ${candidates.join(', ')}); ` +
        'check that the zone is on this Cloudflare account and the token has Zone:Read on it',
      { record: `TXT ${name}` },
    );
  }

  /** The zone named exactly `candidate`, from `GET /zones?name=`; undefined if none. */
  async #zoneNamed(
    candidate: string,
    recordName: string,
    signal: AbortSignal,
  ): Promise<CloudflareZone | undefined> {
    const response = await this.#call(
      'GET',
      `/zones?${new URLSearchParams({ name: candidate, per_page: '50' })}`,
      undefined,
      { action: `looking up zone ${candidate} for ${recordName}`, record: `TXT ${recordName}` },
      signal,
    );
    const zones = arrayResult(response, (item) => {
      const { id, name, status } = item as { id?: unknown; name?: unknown; status?: unknown };
      return typeof id === 'string' && typeof name === 'string'
        ? [
            {
              id,
              name: name.toLowerCase().replace(/\.$/, ''),
              status: typeof status === 'string' ? status : '',
            },
          ]
        : [];
    }).filter((zone) => zone.name === candidate);
    // A name can be on several accounts (one pending, one active): the active one serves DNS.
    const zone = zones.find((z) => z.status === 'active') ?? zones[0];
    if (!zone) return undefined;
    return { id: zone.id, name: zone.name };
  }

  /** The TXT records at `name` holding `value` (bare or in quotes), over every page. */
  async #findValue(
    zone: CloudflareZone,
    name: string,
    value: string,
    signal: AbortSignal,
  ): Promise<DnsRecord[]> {
    const found: DnsRecord[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      // Filtered by name and type only: a content filter would miss a value stored in quotes.
      const query = new URLSearchParams({
        type: 'TXT',
        name,
        page: String(page),
        per_page: String(RECORDS_PER_PAGE),
      });
      const response = await this.#call(
        'GET',
        `/zones/${encodeURIComponent(zone.id)}/dns_records?${query}`,
        undefined,
        {
          action: `listing TXT records at ${name} in zone ${zone.name}`,
          record: `TXT ${name}`,
          zone: zone.name,
        },
        signal,
      );
      const records = arrayResult(response, (item) => {
        const { id, name: n, type, content } = item as Record<string, unknown>;
        return typeof id === 'string' && typeof n === 'string' && typeof content === 'string'
          ? [{ id, name: n, type: typeof type === 'string' ? type : 'TXT', content }]
          : [];
      });
      for (const record of records) {
        const recordName = record.name.toLowerCase().replace(/\.$/, '');
        if (record.type === 'TXT' && recordName === name && sameTxt(record.content, value))
          found.push(record);
      }
      const info = response.envelope.result_info;
      const totalPages = info?.total_pages ?? (records.length < RECORDS_PER_PAGE ? page : page + 1);
      if (page >= totalPages || records.length === 0) break;
    }
    return found;
  }

  /**
   * One API call with retries for 429, 5xx and network failures. Resolves with a successful envelope,
   * or an unsuccessful one whose error codes are all in `context.expected`; throws otherwise.
   */
  async #call(
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
        failure = this.#apiError(context, response);
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

  #apiError(context: CallContext, response: ApiResponse & { retryAfter?: Date }): CloudflareError {
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

  /** Never let the token into a message, even if a server or proxy echoes it back. */
  #redact(text: string): string {
    return text.split(this.#token).join('[token]');
  }
}

/** `_acme-challenge.a.example.org` -> itself, `a.example.org`, `example.org`, `org`. */
function parentNames(name: string): string[] {
  const labels = name.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/** Cloudflare zones are registered domains or below: never a bare TLD. */
function hasTwoLabels(name: string): boolean {
  return name.includes('.');
}

/** Cloudflare's allowed range: 1 (automatic) or 60..86400 (30 on Enterprise, so 30..59 is passed on). */
function cloudflareTtl(ttl: number): number {
  if (ttl === 1) return 1;
  return Math.min(86_400, Math.max(30, Math.round(ttl)));
}

/** Our value as Cloudflare may hand it back: bare, or as one quoted string. */
function sameTxt(content: string, value: string): boolean {
  return content === value || content === `"${value}"`;
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

function arrayResult<T>(response: ApiResponse, pick: (item: unknown) => T[]): T[] {
  const result = response.envelope.result;
  return Array.isArray(result) ? result.flatMap(pick) : [];
}
