// The RFC 2136 provider against a fake server: what it sends for add (class IN, our TTL) and remove
// (class NONE, TTL 0, the exact value), zone choice (record, origin, discovery), option checks, and
// that the secret shows up nowhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { RRClass, RRType } from '../../../../src/solvers/dns/constants.js';
import { DnsError } from '../../../../src/solvers/dns/errors.js';
import { Rfc2136Provider } from '../../../../src/solvers/dns/rfc2136.js';
import { signMessage, TsigKey, verifyMessage } from '../../../../src/solvers/dns/tsig.js';
import { type FakeDnsServer, reply, startFakeDnsServer } from './fake-dns-server.js';
import { FakeZones } from './fake-zones.js';

const SECRET = Buffer.alloc(32, 5).toString('base64');
const key = new TsigKey('k', 'hmac-sha512', SECRET);
const signal = () => AbortSignal.timeout(5_000);

describe('Rfc2136Provider', () => {
  let server: FakeDnsServer;
  const zones = new FakeZones(['example.test']);
  before(async () => {
    server = await startFakeDnsServer((request, bytes) => {
      if (request.opcode !== 5) return zones.handler(request, bytes, 'udp');
      const now = Math.floor(Date.now() / 1000);
      const requestMac = verifyMessage(bytes, request, key, { now });
      return signMessage(reply(request), key, { timeSigned: now, requestMac }).bytes;
    });
  });
  after(() => server.close());
  const provider = (options: Partial<ConstructorParameters<typeof Rfc2136Provider>[0]> = {}) =>
    new Rfc2136Provider({
      host: server.host,
      port: server.port,
      keyName: 'k',
      secret: SECRET,
      algorithm: 'hmac-sha512',
      ...options,
    });
  const lastUpdate = () => server.requests.filter((r) => r.message.opcode === 5).at(-1)!.message;

  it('adds with class IN and the TTL, in the zone it discovered', async () => {
    await provider({ ttl: 120 }).addTxt({ name: '_acme-challenge.www.example.test', value: 'abc' }, signal());
    const update = lastUpdate();
    assert.deepEqual(update.questions, [{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }]);
    assert.deepEqual(update.answers, [], 'no prerequisites');
    assert.deepEqual(update.authorities, [
      {
        name: '_acme-challenge.www.example.test',
        type: RRType.TXT,
        class: RRClass.IN,
        ttl: 120,
        data: { kind: 'TXT', strings: ['abc'] },
      },
    ]);
    assert.equal(update.tsig?.record.data.algorithm, 'hmac-sha512');
  });

  it('removes exactly one value with class NONE and TTL 0, splitting long values the same way', async () => {
    const long = 'v'.repeat(300);
    await provider().removeTxt(
      { name: '_acme-challenge.example.test', value: long, zone: 'example.test' },
      signal(),
    );
    assert.deepEqual(lastUpdate().authorities, [
      {
        name: '_acme-challenge.example.test',
        type: RRType.TXT,
        class: RRClass.NONE,
        ttl: 0,
        data: { kind: 'TXT', strings: ['v'.repeat(255), 'v'.repeat(45)] },
      },
    ]);
  });

  it('uses the configured origin without asking, and refuses names outside it', async () => {
    const p = provider({ origin: 'Example.Test.' });
    const before = server.requests.length;
    assert.equal(await p.zoneFor({ name: 'a.example.test' }, signal()), 'example.test');
    assert.equal(server.requests.length, before);
    const error = await p.zoneFor({ name: 'a.other.test' }, signal()).catch((e: unknown) => e);
    assert.ok(error instanceof DnsError && error.kind === 'zone');
    assert.match(error.message, /a\.other\.test is not inside zone example\.test/);
  });

  it('checks its options', () => {
    assert.throws(() => provider({ secret: undefined }), /both a TSIG key name and its secret/);
    assert.throws(() => provider({ port: 70_000 }), /invalid port/);
    assert.throws(() => provider({ host: '' }), /host is required/);
    assert.throws(() => provider({ algorithm: 'hmac-foo' }), /unknown TSIG algorithm/);
    assert.equal(provider({ port: undefined }).server.port, 53);
  });

  it('never shows the secret', () => {
    const p = provider();
    assert.equal(p.name, `rfc2136 ${server.address}`);
    for (const shown of [inspect(p, { showHidden: true, depth: 10 }), JSON.stringify(p)]) {
      assert.ok(!shown.includes(SECRET), shown);
    }
  });
});
