// The HTTP-01 handler and server on a real loopback http.Server, driven over raw sockets so that odd
// request targets and Host headers reach the handler exactly as written: answers, 404s for traversal
// attempts, 405, redirects, middleware pass-through, and the server's bounds on headers, time and bodies.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import {
  createHttpChallengeHandler,
  createHttpChallengeServer,
  type HttpChallengeEvent,
  type HttpChallengeHandlerOptions,
  type HttpChallengeServerOptions,
} from '../../../src/server/http-challenge.js';
import { HttpChallenges } from '../../../src/solvers/http-01.js';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const PATH = `/.well-known/acme-challenge/${TOKEN}`;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  text: string;
}

function parse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end === -1 ? text.length : end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: end === -1 ? '' : text.slice(end + 4),
    text,
  };
}

/** Sends `request` as written and collects everything until the server closes the connection. */
async function raw(port: number, request: string): Promise<RawResponse> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.write(request, 'latin1');
  await once(socket, 'close');
  return parse(text);
}

function request(
  port: number,
  target: string,
  options: { method?: string; host?: string | null; headers?: string[]; version?: string } = {},
): Promise<RawResponse> {
  const lines = [`${options.method ?? 'GET'} ${target} HTTP/${options.version ?? '1.1'}`];
  if (options.host !== null) lines.push(`Host: ${options.host ?? 'a.example.test'}`);
  lines.push(...(options.headers ?? []), 'Connection: close', '', '');
  return raw(port, lines.join('\r\n'));
}

/** Resolves on 'drain' or 'close'; unlike events.once, an EPIPE on the way is not a failure here. */
function drainedOrClosed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** A pending challenge for TOKEN, served by createHttpChallengeServer on a free loopback port. */
async function startServer(options: Partial<HttpChallengeServerOptions> = {}) {
  const challenges = new HttpChallenges();
  challenges.set(TOKEN, KEY_AUTHORIZATION);
  const events: HttpChallengeEvent[] = [];
  const served = createHttpChallengeServer({ challenges, onEvent: (e) => events.push(e), ...options });
  const { port } = await served.listen(0, '127.0.0.1');
  after(() => served.close());
  return { port, challenges, events, served };
}

/** The handler as a plain listener or middleware on a bare http.createServer. */
async function startPlain(
  listener: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<number> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

describe('answering HTTP-01 challenges', async () => {
  const { port, challenges, events } = await startServer();

  it('answers a pending token with exactly the key authorization as text/plain', async () => {
    const response = await request(port, PATH);
    assert.equal(response.status, 200);
    assert.equal(response.body, KEY_AUTHORIZATION);
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal(response.headers['content-length'], String(KEY_AUTHORIZATION.length));
    assert.ok(events.some((e) => e.type === 'challenge-answered' && e.token === TOKEN));
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await request(port, PATH, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-length'], String(KEY_AUTHORIZATION.length));
    assert.equal(response.body, '');
  });

  it('ignores a query string and accepts an absolute-form target', async () => {
    assert.equal((await request(port, `${PATH}?x=1`)).body, KEY_AUTHORIZATION);
    assert.equal((await request(port, `http://a.example.test${PATH}`)).body, KEY_AUTHORIZATION);
  });

  it('answers 404 for an unknown token, and for a token once cleaned up', async () => {
    assert.equal((await request(port, '/.well-known/acme-challenge/unknownToken')).status, 404);
    challenges.set('shortLived', 'shortLived.x');
    assert.equal((await request(port, '/.well-known/acme-challenge/shortLived')).status, 200);
    challenges.delete('shortLived');
    assert.equal((await request(port, '/.well-known/acme-challenge/shortLived')).status, 404);
    assert.ok(events.some((e) => e.type === 'challenge-unknown' && e.token === 'unknownToken'));
  });

  it('answers 404, never the key authorization, to traversal and malformed paths', async () => {
    const prefix = '/.well-known/acme-challenge';
    const targets = [
      `${prefix}/../${TOKEN}`,
      `${prefix}/x/../${TOKEN}`,
      `${prefix}/%2e%2e/${TOKEN}`,
      `${prefix}/%2E%2E%2F${TOKEN}`,
      `${prefix}/..%2f${TOKEN}`,
      `${prefix}%2f${TOKEN}`,
      `${prefix}/${TOKEN}/`,
      `${prefix}/${TOKEN}/extra`,
      `${prefix}/${TOKEN}%2Fextra`,
      `${prefix}/${TOKEN}%00`,
      `${prefix}//${TOKEN}`,
      `${prefix}/${TOKEN}.`,
      `${prefix}/${TOKEN};x`,
      `${prefix}/${TOKEN}\\`,
      `${prefix}/${TOKEN.slice(0, -1)}%${TOKEN.charCodeAt(TOKEN.length - 1).toString(16)}`,
      `${prefix}/${TOKEN.toLowerCase()}`,
      `${prefix}/`,
      prefix,
      `${prefix}/..`,
      `${prefix}/.`,
    ];
    for (const target of targets) {
      const response = await request(port, target);
      assert.notEqual(response.status, 200, target);
      assert.ok(!response.text.includes(KEY_AUTHORIZATION), target);
      // A target that is still below the challenge directory must get a plain 404, not a redirect.
      if (target.startsWith(`${prefix}/`) || target === prefix) assert.equal(response.status, 404, target);
    }
  });

  it('answers 405 with Allow to other methods on a challenge path', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const response = await request(port, PATH, { method, headers: ['Content-Length: 0'] });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.allow, 'GET, HEAD');
      assert.ok(!response.body.includes(KEY_AUTHORIZATION));
    }
  });

  it('keeps the connection alive for body-less requests', async () => {
    const one = `GET ${PATH} HTTP/1.1\r\nHost: a.example.test\r\n\r\n`;
    const two = `GET ${PATH} HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n`;
    const response = await raw(port, one + two);
    assert.equal(response.text.split(KEY_AUTHORIZATION).length - 1, 2, 'two answers on one connection');
  });
});

describe('requests outside the challenge path', async () => {
  const { port } = await startServer();

  it('redirects GET and HEAD with 301 to https on the same host without the port', async () => {
    const response = await request(port, '/some/path?q=1&r=%20', { host: 'a.example.test:8080' });
    assert.equal(response.status, 301);
    assert.equal(response.headers.location, 'https://a.example.test/some/path?q=1&r=%20');
    const head = await request(port, '/', { method: 'HEAD', host: 'A.Example.Test' });
    assert.equal(head.status, 301);
    assert.equal(head.headers.location, 'https://A.Example.Test/');
  });

  it('redirects other methods with 308 so the method is kept', async () => {
    const response = await request(port, '/form', { method: 'POST', headers: ['Content-Length: 0'] });
    assert.equal(response.status, 308);
    assert.equal(response.headers.location, 'https://a.example.test/form');
  });

  it('keeps IPv6 literals bracketed', async () => {
    const response = await request(port, '/x', { host: '[::1]:8080' });
    assert.equal(response.headers.location, 'https://[::1]/x');
  });

  it('answers 400 to a Host header with bad characters, or none', async () => {
    for (const host of [
      'evil.test/x',
      'evil.test@a.example.test',
      'a..b',
      'a"b',
      'a.test:123456',
      '',
      'a b',
    ]) {
      const response = await request(port, '/', { host });
      assert.equal(response.status, 400, JSON.stringify(host));
      assert.equal(response.headers.location, undefined);
    }
    assert.equal((await request(port, '/', { host: null, version: '1.0' })).status, 400);
  });

  it('answers 400 to a target that cannot be redirected', async () => {
    assert.equal((await request(port, '*', { method: 'OPTIONS' })).status, 400);
  });

  it('answers 404 in not-found mode', async () => {
    const other = await startServer({ otherRequests: 'not-found' });
    const response = await request(other.port, '/index.html');
    assert.equal(response.status, 404);
    assert.equal(response.headers.location, undefined);
  });

  it("hands them to the user's function, and challenges still to the handler", async () => {
    const other = await startServer({ otherRequests: (_req, res) => res.end('mine') });
    assert.equal((await request(other.port, '/')).body, 'mine');
    assert.equal((await request(other.port, PATH)).body, KEY_AUTHORIZATION);
  });
});

describe('as middleware', async () => {
  const challenges = new HttpChallenges();
  challenges.set(TOKEN, KEY_AUTHORIZATION);
  const nextCalls: string[] = [];
  const handler = createHttpChallengeHandler({ challenges });
  const port = await startPlain((req, res) =>
    handler(req, res, () => {
      nextCalls.push(req.url ?? '');
      res.end('from next');
    }),
  );

  it('calls next() for other paths and answers challenge paths itself', async () => {
    assert.equal((await request(port, '/app')).body, 'from next');
    assert.equal((await request(port, PATH)).body, KEY_AUTHORIZATION);
    assert.equal((await request(port, '/.well-known/acme-challenge/nope')).status, 404);
    assert.deepEqual(nextCalls, ['/app']);
  });

  it('redirects instead of calling next() when told to', async () => {
    const redirecting = createHttpChallengeHandler({ challenges, otherRequests: 'redirect' });
    let called = false;
    const p = await startPlain((req, res) => redirecting(req, res, () => (called = true)));
    assert.equal((await request(p, '/app')).status, 301);
    assert.equal(called, false);
  });

  it("matches Express's originalUrl when mounted below a path", async () => {
    const p = await startPlain((req, res) => {
      Object.assign(req, { originalUrl: req.url, url: '/rewritten' });
      handler(req, res, () => res.end('from next'));
    });
    assert.equal((await request(p, PATH)).body, KEY_AUTHORIZATION);
  });

  it('works as a plain http.createServer listener (redirecting other requests)', async () => {
    const p = await startPlain(handler);
    assert.equal((await request(p, PATH)).body, KEY_AUTHORIZATION);
    assert.equal((await request(p, '/')).status, 301);
  });
});

describe('lookups and events', () => {
  async function withLookup(
    options: Partial<HttpChallengeHandlerOptions> & Pick<HttpChallengeHandlerOptions, 'challenges'>,
  ) {
    const events: HttpChallengeEvent[] = [];
    const handler = createHttpChallengeHandler({ onEvent: (e) => events.push(e), ...options });
    return { port: await startPlain(handler), events };
  }

  it('accepts an asynchronous lookup', async () => {
    const { port } = await withLookup({
      challenges: { get: async (token) => (token === TOKEN ? KEY_AUTHORIZATION : undefined) },
    });
    assert.equal((await request(port, PATH)).body, KEY_AUTHORIZATION);
    assert.equal((await request(port, '/.well-known/acme-challenge/other')).status, 404);
  });

  it('answers 500 and reports when the lookup fails, synchronously or not', async () => {
    for (const get of [
      () => Promise.reject(new Error('storage down')),
      () => {
        throw new Error('storage down');
      },
    ]) {
      const { port, events } = await withLookup({ challenges: { get } });
      assert.equal((await request(port, PATH)).status, 500);
      assert.ok(events.some((e) => e.type === 'lookup-failed' && e.token === TOKEN));
    }
  });

  it('keeps serving when the event listener throws', async () => {
    const challenges = new HttpChallenges();
    challenges.set(TOKEN, KEY_AUTHORIZATION);
    const { port } = await withLookup({
      challenges,
      onEvent: () => {
        throw new Error('logger broke');
      },
    });
    assert.equal((await request(port, PATH)).body, KEY_AUTHORIZATION);
  });
});

describe('the hardened challenge server', () => {
  it('rejects oversized headers with 431 and reports it', async () => {
    const { port, events } = await startServer({ maxHeaderBytes: 1024 });
    const response = await request(port, PATH, { headers: [`X-Filler: ${'a'.repeat(4096)}`] });
    assert.equal(response.status, 431);
    assert.ok(!response.text.includes(KEY_AUTHORIZATION));
    assert.ok(events.some((e) => e.type === 'request-rejected' && e.status === 431));
    assert.equal((await request(port, PATH)).status, 200, 'normal requests still pass');
  });

  it('cuts off a client that sends its headers too slowly', async () => {
    const { port, events } = await startServer({ requestTimeoutMs: 300 });
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.write(`GET ${PATH} HTTP/1.1\r\nHost: a.example.test\r\n`);
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 50);
    const started = Date.now();
    await once(socket, 'close');
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2_000, `closed after ${elapsed} ms`);
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(events.some((e) => e.type === 'request-rejected' && e.status === 408));
  });

  for (const [name, target, method, status] of [
    ['a challenge GET', PATH, 'GET', 200],
    ['a challenge POST', PATH, 'POST', 405],
    ['a redirected POST', '/upload', 'POST', 308],
  ] as const) {
    it(`answers ${name} with a huge body at once and closes without reading the body`, async () => {
      const { port, served } = await startServer();
      const serverSockets: net.Socket[] = [];
      served.server.on('connection', (s: net.Socket) => serverSockets.push(s));
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      await once(socket, 'connect');
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: a.example.test\r\nContent-Length: 1000000000\r\n\r\n`,
      );
      // Push the body as fast as the connection takes it, until the server hangs up.
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let written = 0;
      let closed = false;
      socket.once('close', () => (closed = true));
      const started = Date.now();
      while (!closed && written < 1_000_000_000 && Date.now() - started < 5_000) {
        written += chunk.length;
        if (!socket.write(chunk)) await drainedOrClosed(socket);
      }
      if (!closed) await drainedOrClosed(socket);
      assert.ok(Date.now() - started < 5_000, 'the connection is closed promptly');
      assert.equal(parse(text).status, status);
      assert.equal(parse(text).headers.connection, 'close');
      const read = serverSockets.reduce((sum, s) => sum + s.bytesRead, 0);
      assert.ok(read < 64 * 1024 * 1024, `the server read ${read} bytes of a 1 GB body`);
    });
  }

  it('answers "Expect: 100-continue" directly, without inviting the body', async () => {
    const { port } = await startServer();
    const response = await request(port, PATH, {
      method: 'POST',
      headers: ['Content-Length: 1000000', 'Expect: 100-continue'],
    });
    assert.equal(response.status, 405);
    assert.ok(!response.text.includes('100 Continue'));
  });

  it('closes promptly while a keep-alive connection is open', async () => {
    const { port, served } = await startServer();
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET ${PATH} HTTP/1.1\r\nHost: a.example.test\r\n\r\n`);
    await once(socket, 'data');
    const started = Date.now();
    await served.close();
    assert.ok(Date.now() - started < 1_000);
    assert.equal(served.server.listening, false);
    await served.close(); // twice is fine
  });

  it('refuses nonsensical bounds', () => {
    const challenges = new HttpChallenges();
    assert.throws(() => createHttpChallengeServer({ challenges, requestTimeoutMs: 0 }), TypeError);
    assert.throws(() => createHttpChallengeServer({ challenges, maxHeaderBytes: 1.5 }), TypeError);
  });
});
