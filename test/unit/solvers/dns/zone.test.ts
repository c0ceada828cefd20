// Zone apex discovery by SOA queries walking up the labels, and asking a list of servers in turn.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DnsClient } from '../../../../src/solvers/dns/client.js';
import { Rcode, RRType } from '../../../../src/solvers/dns/constants.js';
import { DnsError } from '../../../../src/solvers/dns/errors.js';
import { canonicalName } from '../../../../src/solvers/dns/wire.js';
import { findZone, queryFirst } from '../../../../src/solvers/dns/zone.js';
import { type FakeDnsServer, type Handler, reply, startFakeDnsServer } from './fake-dns-server.js';
import { FakeZones } from './fake-zones.js';
import { freeUdpPort } from './ports.js';

const signal = () => AbortSignal.timeout(5_000);
const client = new DnsClient({ timeoutMs: 300 });

describe('findZone', () => {
  let server: FakeDnsServer;
  let handler: Handler;
  before(async () => {
    server = await startFakeDnsServer((...args) => handler(...args));
  });
  after(() => server.close());

  const asked = () => server.requests.map((r) => canonicalName(r.message.questions[0]!.name));

  it('stops at the SOA in a negative answer (RFC 2308) with a single query', async () => {
    handler = new FakeZones(['example.test']).handler;
    server.requests.length = 0;
    assert.equal(await findZone(client, [server], 'a.b.Example.Test.', signal()), 'example.test');
    assert.deepEqual(asked(), ['a.b.example.test']);
  });

  it('walks up one label at a time past REFUSED answers and CNAMEs until a name has an SOA', async () => {
    handler = (request) => {
      const name = canonicalName(request.questions[0]!.name);
      if (name === 'alias.b.zone.test')
        return reply(request, {
          answers: [
            { name, type: RRType.CNAME, class: 1, ttl: 60, data: { kind: 'CNAME', target: 'x.other.test' } },
          ],
        });
      if (name !== 'zone.test') return reply(request, { rcode: Rcode.REFUSED });
      return reply(request, {
        answers: [
          {
            name,
            type: RRType.SOA,
            class: 1,
            ttl: 60,
            data: {
              kind: 'SOA',
              mname: 'ns',
              rname: 'h',
              serial: 1,
              refresh: 1,
              retry: 1,
              expire: 1,
              minimum: 1,
            },
          },
        ],
      });
    };
    server.requests.length = 0;
    assert.equal(await findZone(client, [server], 'a.alias.b.zone.test', signal()), 'zone.test');
    assert.deepEqual(asked(), ['a.alias.b.zone.test', 'alias.b.zone.test', 'b.zone.test', 'zone.test']);
  });

  it('fails naming the servers and the names asked when no zone holds the name', async () => {
    handler = (request) => reply(request, { rcode: Rcode.REFUSED });
    const error = await findZone(client, [server], 'a.nowhere', signal()).catch((e: unknown) => e);
    assert.ok(error instanceof DnsError && error.kind === 'zone', String(error));
    assert.equal(
      error.message,
      `no zone holding a.nowhere found at ${server.address} (asked SOA for a.nowhere, nowhere)`,
    );
  });

  it('asks the next server when one cannot be reached', async () => {
    handler = new FakeZones(['example.test']).handler;
    const closed = { host: '127.0.0.1', port: await freeUdpPort() };
    const { server: answered } = await queryFirst(
      client,
      [closed, server],
      'example.test',
      RRType.SOA,
      signal(),
    );
    assert.equal(answered, server);
    const error = await queryFirst(client, [closed], 'example.test', RRType.SOA, signal()).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof DnsError && error.kind === 'network');
    await assert.rejects(queryFirst(client, [], 'x', RRType.SOA, signal()), TypeError);
  });
});
