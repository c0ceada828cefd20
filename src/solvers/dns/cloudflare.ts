// A DNS provider for Cloudflare's REST API v4 with an API token (`Authorization: Bearer`; the token
// needs Zone:Read to find zones and DNS:Edit to change them). The zone is found by walking up the record
// name with `GET /zones?name=<candidate>` (or given); a value is added with `POST /zones/{id}/dns_records`
// and removed by listing the TXT records at the name and deleting the one holding our value by its id,
// so the other values of the set (a name and its wildcard) stay. Content is sent as the bare value:
// Cloudflare accepts unquoted TXT content, and a value that comes back quoted is still recognised.
// The API plumbing (envelope, CloudflareError, retries, Retry-After, timeouts) is in cloudflare-api.ts;
// what it exports that callers use is re-exported here.
import { type Clock, systemClock } from '../../util/clock.js';
import {
  arrayResult,
  CLOUDFLARE_API,
  CloudflareApi,
  CloudflareError,
  type CloudflareFetch,
} from './cloudflare-api.js';
import type { DnsProvider, TxtRecord } from './provider.js';
import { canonicalName, isSubdomain } from './wire.js';

export {
  CLOUDFLARE_API,
  CloudflareError,
  type CloudflareErrorKind,
  type CloudflareFetch,
  type CloudflareMessage,
} from './cloudflare-api.js';

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

/** "Record already exists." / "An identical record already exists.": the value may be there already. */
const ALREADY_EXISTS_CODES = new Set([81057, 81058]);
/** "Record does not exist.": removing an absent value is not an error. */
const NOT_FOUND_CODES = new Set([81044]);

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

const RECORDS_PER_PAGE = 100;
const ZONE_CACHE_MS = 60 * 60 * 1000;
const ZONE_CACHE_MAX = 1000;
/** More TXT values than this at one challenge name would be a leak, not a working zone. */
const MAX_PAGES = 50;

export class CloudflareProvider implements DnsProvider {
  readonly name: string;
  readonly #zoneId: string | undefined;
  readonly #ttl: number;
  readonly #clock: Clock;
  readonly #api: CloudflareApi;
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
    this.#zoneId = options.zoneId;
    this.#ttl = ttl;
    this.#clock = options.clock ?? systemClock;
    this.#api = new CloudflareApi({
      token: options.token.trim(),
      baseUrl,
      host,
      fetch: options.fetch ?? ((url, init) => fetch(url, init)),
      timeoutMs: options.requestTimeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      retryDelayMs: options.retryDelayMs ?? 1_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
      clock: this.#clock,
    });
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
    const response = await this.#api.call(
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
    throw this.#api.error(context, response);
  }

  async removeTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    const name = canonicalName(record.name);
    const zone = await this.zoneFor(record, signal);
    for (const found of await this.#findValue(zone, name, record.value, signal)) {
      await this.#api.call(
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
    const response = await this.#api.call(
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
      const response = await this.#api.call(
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
