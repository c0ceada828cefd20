// The Cloudflare provider against a scripted fetch: the requests it makes (zone walk with
// `GET /zones?name=`, `POST .../dns_records` with bare content, list then `DELETE` by id, Bearer token),
// idempotent add and remove (81058, 81044, quoted content), paging, and failures: Cloudflare's error
// codes in typed errors that name the record and never the token, retries of 429 (Retry-After) and 5xx
// on a fake clock, network failures, timeouts and bodies that are not the JSON envelope.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloudflareError,
  type CloudflareFetch,
  CloudflareProvider,
  type CloudflareProviderOptions,
} from '../../../../src/solvers/dns/cloudflare.js';
import { FakeClock } from '../../support/fake-clock.js';

const TOKEN = 'tok3n-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE = 'https://api.cloudflare.test/client/v4';
const ZONE_ID = '023e105f4ecef8ad9ca31a8372d0c353';
const signal = () => AbortSignal.timeout(5_000);

interface Seen {
  method: string;
  url: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = { status?: number; body: unknown; headers?: Record<string, string> } | Error;

const ok = (result: unknown, extra: object = {}): Reply => ({
  body: { success: true, errors: [], messages: [], result, ...extra },
});
const fail = (status: number, ...errors: { code: number; message: string }[]): Reply => ({
  status,
  body: { success: false, errors, messages: [], result: null },
});
const list = (result: unknown[], page = 1, totalPages = 1): Reply =>
  ok(result, {
    result_info: {
      page,
      per_page: 100,
      count: result.length,
      total_count: result.length,
      total_pages: totalPages,
    },
  });
const txt = (id: string, name: string, content: string) => ({
  id,
  zone_id: ZONE_ID,
  zone_name: 'example.org',
  name,
  type: 'TXT',
  content,
  proxiable: false,
  proxied: false,
  ttl: 60,
  locked: false,
  meta: {},
  created_on: '2026-01-01T00:00:00Z',
  modified_on: '2026-01-01T00:00:00Z',
});

/** A fetch answering from `route` and recording every request. */
function fakeFetch(route: (req: Seen) => Reply | Promise<Reply>) {
  const seen: Seen[] = [];
  const fetch: CloudflareFetch = async (url, init) => {
    const parsed = new URL(url);
    const req: Seen = {
      method: init.method,
      url,
      path: parsed.pathname.replace('/client/v4', ''),
      query: Object.fromEntries(parsed.searchParams),
      headers: init.headers,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    };
    seen.push(req);
    const reply = await route(req);
    if (reply instanceof Error) throw reply;
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const headers = new Map(Object.entries(reply.headers ?? {}));
    return {
      status: reply.status ?? 200,
      headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
      arrayBuffer: async () => new TextEncoder().encode(text).buffer as ArrayBuffer,
    };
  };
  return { fetch, seen };
}

/** Zones known to the fake: example.org (ZONE_ID) unless told otherwise. */
function zonesRoute(
  req: Seen,
  zones: Record<string, string> = { 'example.org': ZONE_ID },
): Reply | undefined {
  if (req.method === 'GET' && req.path === '/zones') {
    const id = zones[req.query.name ?? ''];
    return list(id ? [{ id, name: req.query.name, status: 'active' }] : []);
  }
  return undefined;
}

function provider(fetch: CloudflareFetch, options: Partial<CloudflareProviderOptions> = {}) {
  const clock = new FakeClock();
  return {
    clock,
    provider: new CloudflareProvider({ token: TOKEN, baseUrl: BASE, fetch, clock, ...options }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<CloudflareError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof CloudflareError, `expected a CloudflareError, got ${String(error)}`);
  assert.ok(!error.message.includes(TOKEN), 'the token is not in the message');
  return error;
}

describe('CloudflareProvider', () => {
  it('finds the zone by walking up the name, then creates the TXT record with a Bearer token', async () => {
    const { fetch, seen } = fakeFetch(
      (req) => zonesRoute(req) ?? ok(txt('rec1', '_acme-challenge.www.example.org', 'v')),
    );
    const { provider: p } = provider(fetch);
    await p.addTxt(
      {
        name: '_acme-challenge.WWW.example.org.',
        value: 'MsijOYZxqyjGnFGwhjrhfg-Xgbl5r68WPda0J9EgqqI',
        ttl: 120,
      },
      signal(),
    );
    assert.deepEqual(
      seen.map((r) => `${r.method} ${r.path} ${r.query.name ?? ''}`.trim()),
      [
        'GET /zones _acme-challenge.www.example.org',
        'GET /zones www.example.org',
        'GET /zones example.org',
        `POST /zones/${ZONE_ID}/dns_records`,
      ],
    );
    for (const req of seen) {
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(req.headers.accept, 'application/json');
    }
    assert.equal(seen[3]?.headers['content-type'], 'application/json');
    assert.deepEqual(seen[3]?.body, {
      type: 'TXT',
      name: '_acme-challenge.www.example.org',
      content: 'MsijOYZxqyjGnFGwhjrhfg-Xgbl5r68WPda0J9EgqqI',
      ttl: 120,
    });
    assert.equal(p.name, 'cloudflare api.cloudflare.test');
  });

  it('remembers the zone, so cleanup lists and deletes without looking it up again', async () => {
    const { fetch, seen } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      if (req.method === 'POST') return ok(txt('rec1', '_acme-challenge.example.org', 'mine'));
      if (req.method === 'GET')
        return list([
          txt('other', '_acme-challenge.example.org', 'wildcard-value'),
          txt('rec1', '_acme-challenge.example.org', 'mine'),
        ]);
      return ok({ id: 'rec1' });
    });
    const { provider: p } = provider(fetch);
    const record = { name: '_acme-challenge.example.org', value: 'mine' };
    await p.addTxt(record, signal());
    const before = seen.length;
    await p.removeTxt(record, signal());
    const cleanup = seen.slice(before);
    assert.deepEqual(
      cleanup.map((r) => `${r.method} ${r.path}`),
      [`GET /zones/${ZONE_ID}/dns_records`, `DELETE /zones/${ZONE_ID}/dns_records/rec1`],
    );
    assert.deepEqual(cleanup[0]?.query, {
      type: 'TXT',
      name: '_acme-challenge.example.org',
      page: '1',
      per_page: '100',
    });
  });

  it('uses the zone the record names, or the configured zoneId, without walking', async () => {
    const { fetch, seen } = fakeFetch((req) => zonesRoute(req) ?? ok({ id: 'x' }));
    await provider(fetch).provider.addTxt(
      { name: '_acme-challenge.a.b.example.org', value: 'v', zone: 'example.org' },
      signal(),
    );
    assert.deepEqual(
      seen.filter((r) => r.path === '/zones').map((r) => r.query.name),
      ['example.org'],
    );
    seen.length = 0;
    await provider(fetch, { zoneId: 'abc123' }).provider.addTxt(
      { name: '_acme-challenge.a.example.org', value: 'v' },
      signal(),
    );
    assert.deepEqual(
      seen.map((r) => `${r.method} ${r.path}`),
      ['POST /zones/abc123/dns_records'],
    );
    const error = await rejection(
      provider(fetch).provider.addTxt({ name: 'a.other.org', value: 'v', zone: 'example.org' }, signal()),
    );
    assert.equal(error.kind, 'zone');
  });

  it('prefers the longest matching zone and an active one', async () => {
    const { fetch, seen } = fakeFetch((req) => {
      if (req.path === '/zones') {
        if (req.query.name === 'sub.example.org')
          return list([
            { id: 'pending1', name: 'sub.example.org', status: 'pending' },
            { id: 'active1', name: 'sub.example.org', status: 'active' },
          ]);
        return list(
          req.query.name === 'example.org' ? [{ id: ZONE_ID, name: 'example.org', status: 'active' }] : [],
        );
      }
      return ok({ id: 'x' });
    });
    const { provider: p } = provider(fetch);
    const zone = await p.zoneFor({ name: '_acme-challenge.sub.example.org' }, signal());
    assert.deepEqual(zone, { id: 'active1', name: 'sub.example.org' });
    assert.equal(seen.length, 2);
  });

  it('reports a name in no zone of the token, naming what it asked for', async () => {
    const { fetch } = fakeFetch((req) => zonesRoute(req, {}) ?? ok(null));
    const error = await rejection(
      provider(fetch).provider.addTxt({ name: '_acme-challenge.nowhere.test', value: 'v' }, signal()),
    );
    assert.equal(error.kind, 'zone');
    assert.equal(error.retryable, false);
    assert.match(
      error.message,
      /no zone holding _acme-challenge\.nowhere\.test is visible to this token \(asked for _acme-challenge\.nowhere\.test, nowhere\.test\)/,
    );
  });

  it('treats "an identical record already exists" as success when the value is there', async () => {
    const { fetch, seen } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      if (req.method === 'POST')
        return fail(400, { code: 81058, message: 'An identical record already exists.' });
      return list([txt('rec1', '_acme-challenge.example.org', '"v"')]);
    });
    await provider(fetch).provider.addTxt(
      { name: '_acme-challenge.example.org', value: 'v', zone: 'example.org' },
      signal(),
    );
    assert.deepEqual(
      seen.map((r) => r.method),
      ['GET', 'POST', 'GET'],
    );
  });

  it('still fails on "already exists" when the value is not there', async () => {
    const { fetch } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      if (req.method === 'POST') return fail(400, { code: 81057, message: 'Record already exists.' });
      return list([]);
    });
    const error = await rejection(
      provider(fetch).provider.addTxt({ name: '_acme-challenge.example.org', value: 'v' }, signal()),
    );
    assert.equal(error.kind, 'api');
    assert.equal(error.status, 400);
    assert.deepEqual(
      error.errors.map((e) => e.code),
      [81057],
    );
    assert.match(
      error.message,
      /creating TXT "v" at _acme-challenge\.example\.org in zone example\.org failed: HTTP 400: 81057 Record already exists\./,
    );
  });

  it('removes only our value (bare or quoted) and nothing when it is absent; a vanished record is fine', async () => {
    const deleted: string[] = [];
    const { fetch } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      if (req.method === 'GET')
        return list([
          txt('a', '_acme-challenge.example.org', 'keep-me'),
          txt('b', '_acme-challenge.example.org', '"mine"'),
          txt('c', '_acme-challenge.example.org', 'mine'),
          txt('d', '_acme-challenge.example.org', 'MINE'),
          txt('e', 'other.example.org', 'mine'),
        ]);
      deleted.push(req.path.split('/').at(-1) ?? '');
      return req.path.endsWith('/c')
        ? fail(404, { code: 81044, message: 'Record does not exist.' })
        : ok({ id: 'b' });
    });
    const { provider: p } = provider(fetch);
    await p.removeTxt({ name: '_acme-challenge.example.org', value: 'mine' }, signal());
    assert.deepEqual(deleted, ['b', 'c']);
    deleted.length = 0;
    await p.removeTxt({ name: '_acme-challenge.example.org', value: 'absent' }, signal());
    assert.deepEqual(deleted, []);
  });

  it('reads every page of a long record list', async () => {
    const pages: string[] = [];
    const { fetch } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      if (req.method === 'GET') {
        const page = Number(req.query.page);
        pages.push(req.query.page ?? '');
        const records = Array.from({ length: page < 3 ? 100 : 5 }, (_, i) =>
          txt(
            `p${page}-${i}`,
            '_acme-challenge.example.org',
            page === 3 && i === 4 ? 'target' : `v${page}-${i}`,
          ),
        );
        return list(records, page, 3);
      }
      assert.equal(req.path, `/zones/${ZONE_ID}/dns_records/p3-4`);
      return ok({ id: 'p3-4' });
    });
    await provider(fetch).provider.removeTxt(
      { name: '_acme-challenge.example.org', value: 'target' },
      signal(),
    );
    assert.deepEqual(pages, ['1', '2', '3']);
  });

  it('reports a bad token with Cloudflare codes, the record and a hint, never the token', async () => {
    for (const reply of [
      fail(403, { code: 9109, message: 'Invalid access token' }),
      fail(401, { code: 10000, message: 'Authentication error' }),
      {
        status: 400,
        body: {
          success: false,
          errors: [
            {
              code: 6003,
              message: 'Invalid request headers',
              error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
            },
          ],
          messages: [],
          result: null,
        },
      },
    ]) {
      const { fetch, seen } = fakeFetch(() => reply);
      const error = await rejection(
        provider(fetch).provider.addTxt({ name: '_acme-challenge.example.org', value: 'v' }, signal()),
      );
      assert.equal(error.kind, 'api');
      assert.equal(error.authentication, true);
      assert.equal(error.retryable, false);
      assert.equal(error.record, 'TXT _acme-challenge.example.org');
      assert.match(
        error.message,
        /looking up zone _acme-challenge\.example\.org for _acme-challenge\.example\.org failed: HTTP 4\d\d: /,
      );
      assert.match(error.message, /check the API token/);
      assert.equal(seen.length, 1, 'no retry');
      const status = (reply as { status: number }).status;
      if (status === 403) assert.match(error.message, /9109 Invalid access token/);
      if (status === 400)
        assert.match(
          error.message,
          /6003 Invalid request headers \(6111 Invalid format for Authorization header\)/,
        );
    }
  });

  it('never shows the token, even when the server echoes it', async () => {
    const { fetch } = fakeFetch(() => fail(400, { code: 1234, message: `bad header Bearer ${TOKEN}` }));
    const error = await rejection(
      provider(fetch).provider.removeTxt({ name: 'a.example.org', value: 'v' }, signal()),
    );
    assert.match(error.message, /bad header Bearer \[token\]/);
  });

  it('retries a 429 after Retry-After and a 5xx with backoff, then succeeds', async () => {
    let calls = 0;
    const { fetch } = fakeFetch((req) => {
      const zone = zonesRoute(req);
      if (zone) return zone;
      calls++;
      if (calls === 1)
        return {
          ...fail(429, { code: 10013, message: 'Rate limited' }),
          headers: { 'retry-after': '7' },
        } as Reply;
      if (calls === 2) return fail(502, { code: 10002, message: 'Bad gateway' });
      return ok({ id: 'x' });
    });
    const { provider: p, clock } = provider(fetch, { retryDelayMs: 100 });
    await p.addTxt({ name: '_acme-challenge.example.org', value: 'v', zone: 'example.org' }, signal());
    assert.equal(calls, 3);
    assert.equal(clock.sleeps[0], 7_000);
    assert.ok(clock.sleeps[1]! >= 100 && clock.sleeps[1]! <= 200, `backoff ${clock.sleeps[1]}`);
  });

  it('gives up after the retries with a retryable error, and does not wait for a long Retry-After', async () => {
    const { fetch, seen } = fakeFetch(() => fail(503, { code: 10000 + 503, message: 'Service unavailable' }));
    const { provider: p, clock } = provider(fetch, { retries: 2, zoneId: 'z1' });
    const error = await rejection(p.addTxt({ name: '_acme-challenge.example.org', value: 'v' }, signal()));
    assert.equal(error.status, 503);
    assert.equal(error.retryable, true);
    assert.equal(seen.length, 3);
    assert.equal(clock.sleeps.length, 2);

    const slow = fakeFetch(
      () =>
        ({
          ...fail(429, { code: 971, message: 'Please wait' }),
          headers: { 'retry-after': '3600' },
        }) as Reply,
    );
    const limited = provider(slow.fetch, { zoneId: 'z1' });
    const rateLimited = await rejection(
      limited.provider.addTxt({ name: 'a.example.org', value: 'v' }, signal()),
    );
    assert.equal(rateLimited.retryable, true);
    assert.equal(rateLimited.retryAfter?.getTime(), limited.clock.now() + 3_600_000);
    assert.equal(slow.seen.length, 1);
  });

  it('reports network failures, timeouts and non-JSON bodies as such', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    const network = await rejection(
      provider(fakeFetch(() => refused).fetch, { zoneId: 'z1', retries: 1 }).provider.addTxt(
        { name: 'a.example.org', value: 'v' },
        signal(),
      ),
    );
    assert.equal(network.kind, 'network');
    assert.equal(network.retryable, true);
    assert.match(
      network.message,
      /POST https:\/\/api\.cloudflare\.test\/client\/v4\/zones\/z1\/dns_records failed: connection refused/,
    );

    const hanging: CloudflareFetch = (_url, init) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      );
    const timeout = await rejection(
      provider(hanging, { zoneId: 'z1', retries: 0, requestTimeoutMs: 50 }).provider.addTxt(
        { name: 'a.example.org', value: 'v' },
        signal(),
      ),
    );
    assert.equal(timeout.kind, 'timeout');
    assert.match(timeout.message, /no answer from api\.cloudflare\.test within 50 ms/);

    const html = await rejection(
      provider(fakeFetch(() => ({ status: 502, body: '<html>Bad Gateway</html>' })).fetch, {
        zoneId: 'z1',
        retries: 0,
      }).provider.addTxt({ name: 'a.example.org', value: 'v' }, signal()),
    );
    assert.equal(html.kind, 'protocol');
    assert.equal(html.retryable, true);
    assert.match(
      html.message,
      /HTTP 502 with a body that is not Cloudflare's JSON envelope: <html>Bad Gateway<\/html>/,
    );
  });

  it("passes the caller's abort through without retrying", async () => {
    const controller = new AbortController();
    const { fetch, seen } = fakeFetch(() => {
      controller.abort(new Error('stop'));
      return fail(500, { code: 1, message: 'x' });
    });
    await assert.rejects(
      provider(fetch, { zoneId: 'z1' }).provider.addTxt(
        { name: 'a.example.org', value: 'v' },
        controller.signal,
      ),
      /stop/,
    );
    assert.equal(seen.length, 1);
  });

  it('checks its options', () => {
    const { fetch } = fakeFetch(() => ok(null));
    assert.throws(() => new CloudflareProvider({ token: '', fetch }), TypeError);
    assert.throws(
      () => new CloudflareProvider({ token: 'a b', fetch }),
      /white space \(the value is not shown\)/,
    );
    assert.throws(() => new CloudflareProvider({ token: TOKEN, baseUrl: 'ftp://x', fetch }), TypeError);
    assert.throws(() => new CloudflareProvider({ token: TOKEN, zoneId: '../x', fetch }), TypeError);
    assert.throws(() => new CloudflareProvider({ token: TOKEN, ttl: 10, fetch }), TypeError);
    assert.equal(new CloudflareProvider({ token: TOKEN, fetch }).name, 'cloudflare api.cloudflare.com');
  });
});
