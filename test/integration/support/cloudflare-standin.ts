// A local stand-in for the part of Cloudflare's REST API v4 that a DNS-01 provider uses, on
// http://127.0.0.1:<free port>/client/v4: `GET /zones` (filter `name`, paging), `GET|POST
// /zones/{zone_id}/dns_records` (filters `type`, `name`, `content` and their `.exact` forms, paging) and
// `DELETE /zones/{zone_id}/dns_records/{id}`. It follows the documented shapes: every answer is the
// envelope `{ success, errors, messages, result }` (+ `result_info` on lists), errors are `{ code,
// message }` with the codes Cloudflare is known to send (6003/6111 malformed Authorization header,
// 81058 identical record, 81044 no such record, 7000/7003 bad route). A token other than the configured
// ones gets 401 with code 10000 "Authentication error" (Cloudflare answers 401 or 403 there). Records
// live in memory only; nothing reaches a DNS server. It is a stand-in written from the documentation,
// not Cloudflare: behaviour it does not model (rate limits, permissions per token, proxied records)
// is absent unless injected with failNext().
import { randomBytes } from 'node:crypto';
import http from 'node:http';

export interface StandInZone {
  readonly id: string;
  readonly name: string;
}

export interface StandInRecord {
  readonly id: string;
  readonly zone_id: string;
  readonly zone_name: string;
  readonly name: string;
  readonly type: string;
  readonly content: string;
  readonly ttl: number;
  readonly proxiable: boolean;
  readonly proxied: boolean;
  readonly locked: boolean;
  readonly comment: string | null;
  readonly tags: string[];
  readonly meta: Record<string, unknown>;
  readonly created_on: string;
  readonly modified_on: string;
}

/** A request as the stand-in saw it; the Authorization header is reduced to whether it was right. */
export interface StandInRequest {
  readonly method: string;
  /** Path and query, e.g. `/client/v4/zones?name=example.test`. */
  readonly url: string;
  readonly body: unknown;
  readonly authorized: boolean;
}

export interface InjectedFailure {
  readonly status: number;
  readonly errors?: { code: number; message: string }[];
  /** Retry-After header value, e.g. `1`. */
  readonly retryAfter?: string;
  /** A body that is not the JSON envelope (e.g. an HTML error page from a proxy). */
  readonly rawBody?: string;
  /** Only requests whose method and path+query match; default all. */
  readonly match?: (method: string, url: string) => boolean;
}

export interface CloudflareStandInOptions {
  /** Zone names (default `['example.test']`); ids are random 32-hex strings like Cloudflare's. */
  zones?: string[];
  /** Accepted API tokens (default: one random 40-character token). */
  tokens?: string[];
}

export interface CloudflareStandIn {
  /** `http://127.0.0.1:PORT/client/v4`, the provider's `baseUrl`. */
  readonly baseUrl: string;
  /** The first accepted token. */
  readonly token: string;
  readonly zones: readonly StandInZone[];
  /** Every request so far, oldest first. */
  readonly requests: StandInRequest[];
  /** The records of every zone (or of one zone, by name). */
  records(zone?: string): StandInRecord[];
  /** The contents of the TXT records at `name`. */
  txt(name: string): string[];
  /** Answers the next `times` matching requests with this failure instead of handling them. */
  failNext(failure: InjectedFailure, times?: number): void;
  stop(): Promise<void>;
}

const PREFIX = '/client/v4';
const ALLOWED_TYPES = new Set(['A', 'AAAA', 'CAA', 'CNAME', 'MX', 'NS', 'SRV', 'TXT']);

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: { code: number; message: string; error_chain?: { code: number; message: string }[] }[],
  ) {
    super(errors.map((e) => e.message).join('; '));
  }
}

const hexId = () => randomBytes(16).toString('hex');
const lower = (name: string) => name.toLowerCase().replace(/\.$/, '');

export async function startCloudflareStandIn(
  options: CloudflareStandInOptions = {},
): Promise<CloudflareStandIn> {
  const tokens = options.tokens ?? [randomBytes(30).toString('base64url').slice(0, 40)];
  const zones: StandInZone[] = (options.zones ?? ['example.test']).map((name) => ({
    id: hexId(),
    name: lower(name),
  }));
  const records = new Map<string, StandInRecord>();
  const requests: StandInRequest[] = [];
  const failures: { failure: InjectedFailure; left: number }[] = [];
  const accountId = hexId();
  const created = new Date().toISOString();

  const zoneObject = (zone: StandInZone) => ({
    id: zone.id,
    name: zone.name,
    status: 'active',
    paused: false,
    type: 'full',
    development_mode: 0,
    name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'],
    original_name_servers: null,
    original_registrar: null,
    original_dnshost: null,
    created_on: created,
    modified_on: created,
    activated_on: created,
    meta: { step: 4, custom_certificate_quota: 0, page_rule_quota: 3, phishing_detected: false },
    owner: { id: null, type: 'user', email: null },
    account: { id: accountId, name: 'stand-in account' },
    permissions: ['#dns_records:edit', '#dns_records:read', '#zone:read'],
    plan: { id: '0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee', name: 'Free Website', price: 0, currency: 'USD' },
  });

  const paged = <T>(items: T[], query: URLSearchParams, defaultPerPage: number, maxPerPage: number) => {
    const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
    const perPage = Math.min(
      maxPerPage,
      Math.max(1, Number.parseInt(query.get('per_page') ?? String(defaultPerPage), 10) || defaultPerPage),
    );
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return {
      result: slice,
      result_info: {
        page,
        per_page: perPage,
        count: slice.length,
        total_count: items.length,
        total_pages: Math.ceil(items.length / perPage),
      },
    };
  };

  /** `name` or `name.exact` (Cloudflare's newer spelling); both match exactly, case-insensitively. */
  const filter = (query: URLSearchParams, key: string) => query.get(`${key}.exact`) ?? query.get(key);

  const zoneById = (id: string, url: string) => {
    const zone = zones.find((z) => z.id === id);
    if (!zone)
      throw new ApiError(400, [
        { code: 7003, message: `Could not route to ${url}, perhaps your object identifier is invalid?` },
      ]);
    return zone;
  };

  const handle = (method: string, url: URL, body: unknown): { status?: number; payload: object } => {
    const path = url.pathname.slice(PREFIX.length).replace(/\/+$/, '');
    const parts = path.split('/').filter(Boolean);
    const query = url.searchParams;
    if (parts.length === 1 && parts[0] === 'zones') {
      if (method !== 'GET')
        throw new ApiError(405, [{ code: 7001, message: 'Method not allowed for this endpoint' }]);
      const name = filter(query, 'name');
      const matching = zones.filter((zone) => name === null || zone.name === lower(name));
      return { payload: paged(matching.map(zoneObject), query, 20, 50) };
    }
    if (parts[0] === 'zones' && parts[2] === 'dns_records' && parts.length <= 4) {
      const zone = zoneById(parts[1] ?? '', url.pathname);
      if (parts.length === 3 && method === 'GET') {
        const type = query.get('type');
        const name = filter(query, 'name');
        const content = filter(query, 'content');
        const matching = [...records.values()].filter(
          (record) =>
            record.zone_id === zone.id &&
            (type === null || record.type === type.toUpperCase()) &&
            (name === null || record.name === lower(name)) &&
            (content === null || record.content.toLowerCase() === content.toLowerCase()),
        );
        return { payload: paged(matching, query, 100, 5_000) };
      }
      if (parts.length === 3 && method === 'POST') return { payload: { result: create(zone, body) } };
      if (parts.length === 4 && method === 'DELETE') {
        const record = records.get(parts[3] ?? '');
        if (!record || record.zone_id !== zone.id)
          throw new ApiError(404, [{ code: 81044, message: 'Record does not exist.' }]);
        records.delete(record.id);
        return { payload: { result: { id: record.id } } };
      }
      throw new ApiError(405, [{ code: 7001, message: 'Method not allowed for this endpoint' }]);
    }
    throw new ApiError(400, [{ code: 7000, message: 'No route for that URI' }]);
  };

  const create = (zone: StandInZone, body: unknown): StandInRecord => {
    if (typeof body !== 'object' || body === null)
      throw new ApiError(400, [{ code: 9207, message: 'Request body is invalid.' }]);
    const { type, name, content, ttl } = body as Record<string, unknown>;
    if (typeof type !== 'string' || !ALLOWED_TYPES.has(type))
      throw new ApiError(400, [{ code: 9000, message: 'DNS record type is invalid.' }]);
    if (typeof name !== 'string' || name === '')
      throw new ApiError(400, [{ code: 9000, message: 'DNS name is invalid.' }]);
    if (typeof content !== 'string' || content === '')
      throw new ApiError(400, [{ code: 9004, message: 'This record type must have content.' }]);
    const recordTtl = ttl === undefined ? 1 : ttl;
    if (typeof recordTtl !== 'number' || (recordTtl !== 1 && (recordTtl < 60 || recordTtl > 86_400)))
      throw new ApiError(400, [
        { code: 9021, message: 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.' },
      ]);
    // Names are stored fully qualified; `@` is the apex and a relative name is completed with the zone's.
    const given = lower(name);
    const full =
      given === '@'
        ? zone.name
        : given === zone.name || given.endsWith(`.${zone.name}`)
          ? given
          : `${given}.${zone.name}`;
    for (const record of records.values()) {
      if (
        record.zone_id === zone.id &&
        record.type === type &&
        record.name === full &&
        record.content === content
      )
        throw new ApiError(400, [{ code: 81058, message: 'An identical record already exists.' }]);
    }
    const now = new Date().toISOString();
    const record: StandInRecord = {
      id: hexId(),
      zone_id: zone.id,
      zone_name: zone.name,
      name: full,
      type,
      content,
      ttl: recordTtl,
      proxiable: false,
      proxied: false,
      locked: false,
      comment: null,
      tags: [],
      meta: { auto_added: false, managed_by_apps: false, managed_by_argo_tunnel: false },
      created_on: now,
      modified_on: now,
    };
    records.set(record.id, record);
    return record;
  };

  const send = (
    response: http.ServerResponse,
    status: number,
    payload: object,
    headers: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(payload);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    response.end(text);
  };
  const failure = (errors: ApiError['errors']) => ({ success: false, errors, messages: [], result: null });

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const method = request.method ?? 'GET';
      const url = new URL(request.url ?? '/', 'http://stand-in');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        body = raw;
      }
      const authorization = request.headers.authorization ?? '';
      const bearer = /^Bearer ([^\s]+)$/.exec(authorization)?.[1];
      const authorized = bearer !== undefined && tokens.includes(bearer);
      requests.push({ method, url: `${url.pathname}${url.search}`, body, authorized });

      if (!url.pathname.startsWith(`${PREFIX}/`)) {
        send(response, 400, failure([{ code: 7000, message: 'No route for that URI' }]));
        return;
      }
      const injected = failures.find(
        (entry) => entry.left > 0 && (entry.failure.match?.(method, `${url.pathname}${url.search}`) ?? true),
      );
      if (injected) {
        injected.left--;
        const { status, errors, retryAfter, rawBody } = injected.failure;
        const headers: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
        if (rawBody !== undefined) {
          response.writeHead(status, { 'content-type': 'text/html', ...headers });
          response.end(rawBody);
        } else {
          send(
            response,
            status,
            failure(errors ?? [{ code: 10000 + status, message: `injected ${status}` }]),
            headers,
          );
        }
        return;
      }
      if (bearer === undefined) {
        send(
          response,
          400,
          failure([
            {
              code: 6003,
              message: 'Invalid request headers',
              error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
            },
          ]),
        );
        return;
      }
      if (!authorized) {
        send(response, 401, failure([{ code: 10000, message: 'Authentication error' }]));
        return;
      }
      try {
        const { status, payload } = handle(method, url, body);
        send(response, status ?? 200, { success: true, errors: [], messages: [], ...payload });
      } catch (error) {
        if (error instanceof ApiError) send(response, error.status, failure(error.errors));
        else send(response, 500, failure([{ code: 10001, message: 'Internal server error' }]));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stand-in: no TCP address');

  return {
    baseUrl: `http://127.0.0.1:${address.port}${PREFIX}`,
    token: tokens[0] ?? '',
    zones,
    requests,
    records: (zone) =>
      [...records.values()].filter((record) => zone === undefined || record.zone_name === lower(zone)),
    txt: (name) =>
      [...records.values()]
        .filter((record) => record.type === 'TXT' && record.name === lower(name))
        .map((record) => record.content),
    failNext(entry, times = 1) {
      failures.push({ failure: entry, left: times });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
