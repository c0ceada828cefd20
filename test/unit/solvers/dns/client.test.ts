// The DNS client's checks on answers: the question must be echoed, TCP answers must carry our ID, and
// a signed update succeeds only on a NOERROR answer with a valid TSIG signature over our request MAC.
// Every failure names server, zone and record, and none shows the secret.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DnsClient } from '../../../../src/solvers/dns/client.js';
import { Rcode, RRClass, RRType } from '../../../../src/solvers/dns/constants.js';
import { DnsError } from '../../../../src/solvers/dns/errors.js';
import type { DecodedMessage, ResourceRecord } from '../../../../src/solvers/dns/message.js';
import { signMessage, TsigKey, verifyMessage } from '../../../../src/solvers/dns/tsig.js';
import { FakeClock } from '../../support/fake-clock.js';
import { type FakeDnsServer, type Handler, reply, startFakeDnsServer } from './fake-dns-server.js';

const SECRET = Buffer.alloc(32, 9).toString('base64');
const key = new TsigKey('update-key', 'hmac-sha256', SECRET);
const otherKey = new TsigKey('update-key', 'hmac-sha256', Buffer.alloc(32, 1).toString('base64'));
const clock = new FakeClock(Date.parse('2026-06-01T00:00:00Z'));
const now = Math.floor(clock.now() / 1000);
const signal = () => AbortSignal.timeout(5_000);
const addition: ResourceRecord = {
  name: '_acme-challenge.example.test',
  type: RRType.TXT,
  class: RRClass.IN,
  ttl: 60,
  data: { kind: 'TXT', strings: ['value'] },
};
const context = {
  action: 'adding TXT "value" at _acme-challenge.example.test',
  record: 'TXT _acme-challenge.example.test',
};

/** The server side of TSIG: verify the request, answer signed with `signWith` (over the request MAC). */
function signedAnswer(request: DecodedMessage, bytes: Buffer, rcode: number, signWith = key): Buffer {
  const requestMac = verifyMessage(bytes, request, key, { now });
  return signMessage(reply(request, { rcode }), signWith, { timeSigned: now, requestMac }).bytes;
}

async function failure(promise: Promise<unknown>): Promise<DnsError> {
  const error = await promise.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DnsError, String(error));
  assert.ok(!error.message.includes(SECRET), 'the secret never appears');
  return error;
}

describe('DnsClient', () => {
  let server: FakeDnsServer;
  let handler: Handler = () => undefined;
  before(async () => {
    server = await startFakeDnsServer((...args) => handler(...args));
  });
  after(() => server.close());
  const client = new DnsClient({ clock, timeoutMs: 500 });
  /** `withKey: null` sends the update unsigned. */
  const update = (protocol: 'udp' | 'tcp' = 'udp', withKey: TsigKey | null = key) =>
    new DnsClient({ clock, timeoutMs: 500, protocol }).update(
      server,
      'example.test',
      [addition],
      withKey ?? undefined,
      context,
      signal(),
    );

  it('asks with a random ID, RD as told and EDNS, and returns the answer', async () => {
    handler = (request) => reply(request, { answers: [{ ...addition, name: request.questions[0]!.name }] });
    const answer = await client.query(server, '_acme-challenge.example.test', RRType.TXT, signal(), {
      recursive: false,
    });
    assert.equal(answer.answers.length, 1);
    const sent = server.requests.at(-1)!.message;
    assert.equal(sent.rd, false);
    assert.deepEqual(sent.edns, { udpSize: 1232 });
    await client.query(server, 'a.test', RRType.A, signal());
    assert.equal(server.requests.at(-1)!.message.rd, true);
    assert.notEqual(server.requests.at(-1)!.message.id, sent.id);
  });

  it('rejects an answer to another question, and a TCP answer with another ID', async () => {
    handler = (request) =>
      reply({ ...request, questions: [{ name: 'other.test', type: RRType.TXT, class: 1 }] });
    const error = await failure(client.query(server, 'a.test', RRType.TXT, signal()));
    assert.equal(error.kind, 'protocol');
    assert.match(error.message, /question in the answer is not the one asked/);
    handler = (request) => reply({ ...request, id: request.id ^ 0xffff });
    const tcp = new DnsClient({ protocol: 'tcp', timeoutMs: 500 });
    assert.match(
      (await failure(tcp.query(server, 'a.test', RRType.TXT, signal()))).message,
      /ID \d+ instead of/,
    );
    handler = () => Buffer.from('not dns');
    assert.equal((await failure(tcp.query(server, 'a.test', RRType.TXT, signal()))).kind, 'protocol');
  });

  it('sends a signed UPDATE for the zone, signed at the clock time, and accepts a signed NOERROR', async () => {
    handler = (request, bytes) => signedAnswer(request, bytes, Rcode.NOERROR);
    for (const protocol of ['udp', 'tcp'] as const) {
      await update(protocol);
      const sent = server.requests.at(-1)!;
      assert.equal(sent.protocol, protocol);
      assert.equal(sent.message.opcode, 5);
      assert.deepEqual(sent.message.questions, [
        { name: 'example.test', type: RRType.SOA, class: RRClass.IN },
      ]);
      assert.deepEqual(sent.message.authorities, [addition]);
      assert.equal(sent.message.tsig?.record.data.timeSigned, now);
    }
  });

  it('does not believe an unsigned or wrongly signed NOERROR', async () => {
    handler = (request) => reply(request);
    let error = await failure(update());
    assert.equal(error.kind, 'tsig');
    assert.match(error.message, /not signed although the request was/);
    handler = (request, bytes) => signedAnswer(request, bytes, Rcode.NOERROR, otherKey);
    error = await failure(update());
    assert.equal(error.kind, 'tsig');
    assert.match(error.message, /MAC does not match/);
    handler = (request, bytes) => {
      const answer = signedAnswer(request, bytes, Rcode.REFUSED);
      answer[3] = (answer[3]! & 0xf0) | Rcode.NOERROR; // turn a refusal into a success on the way
      return answer;
    };
    error = await failure(update());
    assert.equal(error.kind, 'tsig');
  });

  it('reports error RCODEs naming server, zone and record, signed or not', async () => {
    handler = (request, bytes) => signedAnswer(request, bytes, Rcode.REFUSED);
    let error = await failure(update());
    assert.equal(error.kind, 'rcode');
    assert.equal(error.rcode, 'REFUSED');
    assert.equal(error.server, server.address);
    assert.equal(error.zone, 'example.test');
    assert.equal(error.record, 'TXT _acme-challenge.example.test');
    assert.equal(error.retryable, false);
    assert.match(
      error.message,
      new RegExp(
        `adding TXT "value" at _acme-challenge.example.test in zone example.test at ${server.address} failed: REFUSED: .*key "update-key"`,
      ),
    );
    handler = (request) => reply(request, { rcode: Rcode.NOTAUTH });
    error = await failure(update());
    assert.equal(error.rcode, 'NOTAUTH');
    assert.match(error.message, /NOTAUTH \(unsigned answer\)/);
    handler = (request, bytes) => signedAnswer(request, bytes, Rcode.SERVFAIL);
    error = await failure(update());
    assert.equal(error.rcode, 'SERVFAIL');
    assert.equal(error.retryable, true);
    handler = (request) => reply(request, { rcode: Rcode.REFUSED });
    error = await failure(update('udp', null));
    assert.match(error.message, /REFUSED: the server does not accept this unsigned update/);
  });
});
