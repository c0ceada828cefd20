import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcmeHttp, type FetchLike, type HttpRequestInit, linkTargets } from '../../../src/acme/http.js';
import { AcmeProblemError, NetworkError } from '../../../src/errors.js';
import { FakeClock } from '../support/fake-clock.js';

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A fetch that answers from a script, one reply (or thrown error) per call, and records requests. */
function scriptedFetch(script: (Reply | Error)[]) {
  const requests: HttpRequestInit[] = [];
  const fetch: FetchLike = async (_url, init) => {
    requests.push(init);
    const next = script.shift();
    if (!next) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    const headers = new Headers(next.headers);
    const text =
      next.body === undefined ? '' : typeof next.body === 'string' ? next.body : JSON.stringify(next.body);
    return { status: next.status, headers, arrayBuffer: async () => new TextEncoder().encode(text).buffer };
  };
  return { fetch, requests };
}

const get = () => ({ method: 'GET' as const, headers: {} });
const signal = new AbortController().signal;

describe('ACME HTTP requests', () => {
  it('retries a network failure with growing delays, then succeeds', async () => {
    const { fetch, requests } = scriptedFetch([
      new TypeError('fetch failed'),
      new TypeError('fetch failed'),
      { status: 200 },
    ]);
    const clock = new FakeClock();
    const http = new AcmeHttp({ fetch, clock, random: () => 1 });
    const response = await http.send('https://ca.test/dir', get, signal);
    assert.equal(response.status, 200);
    assert.equal(requests.length, 3);
    assert.deepEqual(clock.sleeps, [250, 500]);
  });

  it('gives up on a network failure after the bounded retries with a retryable NetworkError', async () => {
    const { fetch, requests } = scriptedFetch(
      Array.from({ length: 10 }, () => new TypeError('fetch failed')),
    );
    const http = new AcmeHttp({ fetch, clock: new FakeClock(), retry: { retries: 2 } });
    await assert.rejects(http.send('https://ca.test/dir', get, signal), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.retryable, true);
      assert.match(error.message, /GET https:\/\/ca\.test\/dir failed after 3 attempts/);
      return true;
    });
    assert.equal(requests.length, 3);
  });

  it('honours Retry-After on a 503 before trying again', async () => {
    const { fetch } = scriptedFetch([{ status: 503, headers: { 'retry-after': '7' } }, { status: 200 }]);
    const clock = new FakeClock();
    await new AcmeHttp({ fetch, clock }).send('https://ca.test/x', get, signal);
    assert.deepEqual(clock.sleeps, [7000]);
  });

  it('hands a long Retry-After back to the caller instead of waiting inside the request', async () => {
    const { fetch } = scriptedFetch([
      {
        status: 503,
        headers: { 'retry-after': '3600' },
        body: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'maintenance' },
      },
    ]);
    const clock = new FakeClock();
    await assert.rejects(
      new AcmeHttp({ fetch, clock }).send('https://ca.test/x', get, signal),
      (error: unknown) => {
        assert.ok(error instanceof AcmeProblemError);
        assert.equal(error.retryAfter?.getTime(), clock.now() + 3_600_000);
        assert.equal(error.retryable, true);
        return true;
      },
    );
    assert.deepEqual(clock.sleeps, []);
  });

  it('retries badNonce at once, rebuilding the request each time', async () => {
    const badNonce = {
      status: 400,
      body: { type: 'urn:ietf:params:acme:error:badNonce', detail: 'stale' },
      headers: { 'replay-nonce': 'fresh' },
    };
    const { fetch } = scriptedFetch([badNonce, badNonce, { status: 201 }]);
    const nonces: string[] = [];
    let builds = 0;
    const clock = new FakeClock();
    const http = new AcmeHttp({ fetch, clock, onNonce: (n) => nonces.push(n) });
    const response = await http.send(
      'https://ca.test/x',
      () => ({ method: 'POST', headers: {}, body: String(++builds) }),
      signal,
    );
    assert.equal(response.status, 201);
    assert.equal(builds, 3);
    assert.deepEqual(nonces, ['fresh', 'fresh']);
    assert.deepEqual(clock.sleeps, []);
  });

  it('turns a problem document into a typed error keeping type, detail, status and subproblems', async () => {
    const { fetch } = scriptedFetch([
      {
        status: 400,
        headers: { 'content-type': 'application/problem+json' },
        body: {
          type: 'urn:ietf:params:acme:error:rejectedIdentifier',
          detail: 'some names were refused',
          subproblems: [
            {
              type: 'urn:ietf:params:acme:error:rejectedIdentifier',
              detail: 'policy forbids',
              identifier: { type: 'dns', value: 'bad.example' },
            },
          ],
        },
      },
    ]);
    await assert.rejects(
      new AcmeHttp({ fetch, clock: new FakeClock() }).send('https://ca.test/new-order', get, signal),
      (error: unknown) => {
        assert.ok(error instanceof AcmeProblemError);
        assert.equal(error.type, 'urn:ietf:params:acme:error:rejectedIdentifier');
        assert.equal(error.shortType, 'rejectedIdentifier');
        assert.equal(error.status, 400);
        assert.equal(error.detail, 'some names were refused');
        assert.equal(error.subproblems[0]?.identifier?.value, 'bad.example');
        assert.equal(error.retryable, false);
        assert.match(error.message, /bad\.example: rejectedIdentifier: policy forbids/);
        return true;
      },
    );
  });

  it('a rateLimited problem is retryable and carries Retry-After, without being retried inside', async () => {
    const { fetch, requests } = scriptedFetch([
      {
        status: 429,
        headers: { 'retry-after': '120' },
        body: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' },
      },
    ]);
    await assert.rejects(
      new AcmeHttp({ fetch, clock: new FakeClock() }).send('https://ca.test/x', get, signal),
      (error: unknown) => {
        assert.ok(error instanceof AcmeProblemError && error.retryable && error.retryAfter !== undefined);
        return true;
      },
    );
    assert.equal(requests.length, 1);
  });

  it('an HTML error page becomes a problem with the status and the start of the text', async () => {
    const { fetch } = scriptedFetch([{ status: 404, body: '<html>Not Found</html>' }]);
    await assert.rejects(
      new AcmeHttp({ fetch, clock: new FakeClock() }).send('https://ca.test/x', get, signal),
      /404[\s\S]*Not Found/,
    );
  });

  it('sends a User-Agent naming tlsward', async () => {
    const { fetch, requests } = scriptedFetch([{ status: 200 }]);
    await new AcmeHttp({ fetch, clock: new FakeClock() }).send('https://ca.test/x', get, signal);
    assert.match(requests[0]?.headers['user-agent'] ?? '', /^tlsward\/\d+\.\d+\.\d+/);
  });

  it('stops at once when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const { fetch, requests } = scriptedFetch([{ status: 200 }]);
    await assert.rejects(
      new AcmeHttp({ fetch, clock: new FakeClock() }).send('https://ca.test/x', get, controller.signal),
      /stop/,
    );
    assert.equal(requests.length, 0);
  });
});

describe('Link headers', () => {
  const response = (link: string) => ({
    url: 'https://ca.test/cert/1',
    status: 200,
    body: Buffer.alloc(0),
    headers: new Headers({ link }),
  });

  it('finds every alternate chain among other relations, resolving relative URLs', () => {
    const links = linkTargets(
      response(
        '<https://ca.test/dir>;rel="index", </cert/1/1>; rel="alternate", <https://ca.test/cert/1/2>;rel=alternate',
      ),
      'alternate',
    );
    assert.deepEqual(links, ['https://ca.test/cert/1/1', 'https://ca.test/cert/1/2']);
  });

  it('returns nothing when there is no such relation', () => {
    assert.deepEqual(linkTargets(response('<https://ca.test/dir>;rel="index"'), 'alternate'), []);
  });
});
