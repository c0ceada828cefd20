// Getting one answer from one server: UDP with ID matching and resends, TCP fallback on truncation,
// TCP only, timeouts, aborts and unreachable servers, against an in-process fake server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../../../src/solvers/dns/constants.js';
import { DnsError } from '../../../../src/solvers/dns/errors.js';
import { encodeMessage, newMessage } from '../../../../src/solvers/dns/message.js';
import { exchange, formatServer, parseServer } from '../../../../src/solvers/dns/transport.js';
import { type FakeDnsServer, type Handler, reply, startFakeDnsServer } from './fake-dns-server.js';
import { freeUdpPort } from './ports.js';

const query = (id = 0x1234) =>
  encodeMessage(newMessage({ id, questions: [{ name: 'a.test', type: RRType.TXT, class: 1 }] }));
const signal = () => AbortSignal.timeout(5_000);

describe('server addresses', () => {
  it('parses host, host:port, [v6]:port and bare IPv6', () => {
    assert.deepEqual(parseServer('192.0.2.1'), { host: '192.0.2.1', port: 53 });
    assert.deepEqual(parseServer('192.0.2.1:5353'), { host: '192.0.2.1', port: 5353 });
    assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353 });
    assert.deepEqual(parseServer('2001:db8::1'), { host: '2001:db8::1', port: 53 });
    assert.deepEqual(parseServer('ns1.example.org', 5300), { host: 'ns1.example.org', port: 5300 });
    assert.throws(() => parseServer('host:0'), TypeError);
    assert.throws(() => parseServer('host:x'), TypeError);
    assert.throws(() => parseServer(''), TypeError);
    assert.equal(formatServer({ host: '::1', port: 53 }), '[::1]:53');
    assert.equal(formatServer({ host: '127.0.0.1', port: 53 }), '127.0.0.1:53');
  });
});

describe('exchange', () => {
  let server: FakeDnsServer;
  let handler: Handler = () => undefined;
  before(async () => {
    server = await startFakeDnsServer((...args) => handler(...args));
  });
  after(() => server.close());

  it('returns the UDP answer with our ID, ignoring datagrams with another ID or without QR', async () => {
    handler = (request) => [
      reply({ ...request, id: request.id ^ 1 }),
      Buffer.from(query(request.id)), // same ID but a query, not an answer
      reply(request, { rcode: 3 }),
    ];
    const result = await exchange(server, query(), { protocol: 'udp', timeoutMs: 1_000 }, signal());
    assert.equal(result.protocol, 'udp');
    assert.equal(result.bytes.readUInt16BE(0), 0x1234);
    assert.equal(result.bytes[3]! & 0xf, 3);
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    server.requests.length = 0;
    handler = (request, _bytes, protocol) => reply(request, { tc: protocol === 'udp' });
    const result = await exchange(server, query(), { protocol: 'udp', timeoutMs: 1_000 }, signal());
    assert.equal(result.protocol, 'tcp');
    assert.deepEqual(
      server.requests.map((r) => r.protocol),
      ['udp', 'tcp'],
    );
  });

  it('uses only TCP when told to', async () => {
    server.requests.length = 0;
    handler = (request) => reply(request);
    const result = await exchange(server, query(), { protocol: 'tcp', timeoutMs: 1_000 }, signal());
    assert.equal(result.protocol, 'tcp');
    assert.deepEqual(
      server.requests.map((r) => r.protocol),
      ['tcp'],
    );
  });

  it('resends over UDP, then times out naming the server', async () => {
    server.requests.length = 0;
    handler = () => undefined;
    const error = await exchange(
      server,
      query(),
      { protocol: 'udp', timeoutMs: 100, udpAttempts: 3 },
      signal(),
    ).catch((e: unknown) => e);
    assert.ok(error instanceof DnsError && error.kind === 'timeout', String(error));
    assert.match(error.message, new RegExp(`${server.address} did not answer over UDP within 300 ms`));
    assert.equal(error.retryable, true);
    assert.equal(server.requests.length, 3);
  });

  it('times out over TCP too', async () => {
    handler = () => undefined;
    const error = await exchange(server, query(), { protocol: 'tcp', timeoutMs: 100 }, signal()).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof DnsError && error.kind === 'timeout', String(error));
  });

  it('stops at once when the caller aborts, with the caller reason', async () => {
    handler = () => undefined;
    for (const protocol of ['udp', 'tcp'] as const) {
      const controller = new AbortController();
      const reason = new Error('stop now');
      setTimeout(() => controller.abort(reason), 20);
      const started = Date.now();
      await assert.rejects(
        exchange(server, query(), { protocol, timeoutMs: 5_000 }, controller.signal),
        reason,
      );
      assert.ok(Date.now() - started < 1_000);
    }
  });

  it('reports a closed port as a network error', async () => {
    const closed = { host: '127.0.0.1', port: await freeUdpPort() };
    for (const protocol of ['udp', 'tcp'] as const) {
      const error = await exchange(closed, query(), { protocol, timeoutMs: 1_000 }, signal()).catch(
        (e: unknown) => e,
      );
      assert.ok(error instanceof DnsError && error.kind === 'network', String(error));
      assert.match(error.message, /connection refused/);
      assert.equal(error.server, formatServer(closed));
    }
  });
});
