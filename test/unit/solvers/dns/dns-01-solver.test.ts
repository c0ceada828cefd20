// The DNS-01 solver (src/solvers/dns-01.ts) with an in-memory provider and a toy authoritative server:
// record name and value, CNAME delegation, coexisting values for a name and its wildcard, polling the
// zone's name servers on a fake clock, a timeout naming the lagging server, and cleanup that removes
// only our value, also after failures.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DnsError, DnsPropagationError } from '../../../../src/solvers/dns/errors.js';
import {
  Dns01Solver,
  type Dns01SolverOptions,
  dns01RecordName,
  dns01RecordValue,
} from '../../../../src/solvers/dns-01.js';
import type { PendingChallenge } from '../../../../src/solvers/solver.js';
import { FakeClock } from '../../support/fake-clock.js';
import { type FakeDnsServer, startFakeDnsServer } from './fake-dns-server.js';
import { FakeZones } from './fake-zones.js';
import { freeUdpPort } from './ports.js';

const signal = () => AbortSignal.timeout(10_000);

function challenge(domain: string, wildcard = false, token = `tok-${domain}-${wildcard}`): PendingChallenge {
  return { type: 'dns-01', domain, wildcard, token, keyAuthorization: `${token}.thumbprint` };
}

describe('DNS-01 record name and value (RFC 8555 section 8.4)', () => {
  it('puts the record at _acme-challenge.<domain>, the same for a wildcard, in lowercase', () => {
    assert.equal(dns01RecordName('WWW.Example.Test.'), '_acme-challenge.www.example.test');
  });

  it('uses base64url without padding of the SHA-256 of the key authorization', () => {
    const value = dns01RecordValue('token.thumbprint');
    assert.match(value, /^[A-Za-z0-9_-]{43}$/);
    const expected = createHash('sha256').update('token.thumbprint').digest('base64');
    assert.equal(value, expected.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  });
});

describe('Dns01Solver', () => {
  let server: FakeDnsServer;
  let zones: FakeZones;
  let clock: FakeClock;
  before(async () => {
    server = await startFakeDnsServer((...args) => zones.handler(...args));
  });
  after(() => server.close());
  beforeEach(() => {
    zones = new FakeZones(['example.test', 'validation.test']);
    clock = new FakeClock();
    server.requests.length = 0;
  });

  const solver = (provider: Dns01SolverOptions['provider'], options: Partial<Dns01SolverOptions> = {}) =>
    new Dns01Solver({
      provider,
      resolvers: [server.address],
      nameserverPort: server.port,
      clock,
      queryTimeoutMs: 200,
      ...options,
    });

  it('adds the value at the challenge name and waits until the name server shows it', async () => {
    const provider = zones.provider();
    const s = solver(provider, { pollingIntervalMs: 500 });
    const ch = challenge('www.example.test');
    zones.lag = 2;
    await s.present(ch, signal());
    const value = dns01RecordValue(ch.keyAuthorization);
    assert.deepEqual(provider.calls, [`add _acme-challenge.www.example.test ${value} ttl=60`]);
    await s.wait(ch, signal());
    assert.deepEqual(clock.sleeps, [500, 500], 'visible at the third look');
    const asked = server.requests.map(
      (r) => `${r.message.questions[0]!.name} ${r.message.questions[0]!.type}`,
    );
    assert.ok(asked.includes('example.test 2'), 'looked up the NS records of the zone');
    await s.cleanup(ch, signal());
    assert.deepEqual(zones.values('_acme-challenge.www.example.test'), []);
  });

  it('keeps the values of a name and its wildcard side by side and removes only its own', async () => {
    const s = solver(zones.provider());
    const base = challenge('example.test');
    const wildcard = challenge('example.test', true);
    await Promise.all([s.present(base, signal()), s.present(wildcard, signal())]);
    const both = [dns01RecordValue(base.keyAuthorization), dns01RecordValue(wildcard.keyAuthorization)];
    assert.deepEqual(zones.values('_acme-challenge.example.test').sort(), [...both].sort());
    await Promise.all([s.wait(base, signal()), s.wait(wildcard, signal())]);
    await s.cleanup(base, signal());
    assert.deepEqual(zones.values('_acme-challenge.example.test'), [both[1]]);
    await s.cleanup(wildcard, signal());
    assert.deepEqual(zones.values('_acme-challenge.example.test'), []);
  });

  it('follows a CNAME chain and writes, checks and removes the record at its end', async () => {
    zones.cnames.set('_acme-challenge.delegated.example.test', 'hop.validation.test');
    zones.cnames.set('hop.validation.test', 'final.validation.test');
    const provider = zones.provider();
    const s = solver(provider);
    const ch = challenge('delegated.example.test');
    await s.present(ch, signal());
    assert.match(provider.calls[0]!, /^add final\.validation\.test /);
    await s.wait(ch, signal());
    await s.cleanup(ch, signal());
    assert.match(provider.calls[1]!, /^remove final\.validation\.test /);
  });

  it('does not follow CNAMEs when told not to, and refuses a CNAME loop', async () => {
    zones.cnames.set('_acme-challenge.loop.example.test', 'other.example.test');
    zones.cnames.set('other.example.test', '_acme-challenge.loop.example.test');
    const provider = zones.provider();
    await solver(provider, { followCname: false, propagationCheck: false }).present(
      challenge('loop.example.test'),
      signal(),
    );
    assert.match(provider.calls[0]!, /^add _acme-challenge\.loop\.example\.test /);
    const error = await solver(provider)
      .present(challenge('loop.example.test'), signal())
      .catch((e: unknown) => e);
    assert.ok(error instanceof DnsError && /loops or is too long/.test(error.message), String(error));
  });

  it('times out naming the lagging name server and what it answered, after the configured time', async () => {
    zones.lag = 1_000;
    const s = solver(zones.provider(), { pollingIntervalMs: 2_000, propagationTimeoutMs: 7_000 });
    const ch = challenge('slow.example.test');
    await s.present(ch, signal());
    const error = await s.wait(ch, signal()).catch((e: unknown) => e);
    assert.ok(error instanceof DnsPropagationError, String(error));
    assert.deepEqual(clock.sleeps, [2_000, 2_000, 2_000, 1_000], 'polled until the deadline, not past it');
    assert.deepEqual(error.lagging, [
      { server: `ns1.example.test (127.0.0.1:${server.port})`, reason: 'no TXT record yet' },
    ]);
    assert.equal(error.zone, 'example.test');
    assert.match(
      error.message,
      /TXT _acme-challenge\.slow\.example\.test ".+" is not visible on every server after 7000 ms/,
    );
    assert.equal(error.code, 'TIMEOUT');
    assert.equal(error.retryable, true);
  });

  it('checks the configured servers instead of the NS records, naming each one that lags', async () => {
    const closed = `127.0.0.1:${await freeUdpPort()}`;
    zones.silent.add('_acme-challenge.listed.example.test');
    const s = solver(zones.provider(), {
      checkServers: [server.address, closed],
      pollingIntervalMs: 100,
      propagationTimeoutMs: 200,
    });
    const ch = challenge('listed.example.test');
    await s.present(ch, signal());
    const error = await s.wait(ch, signal()).catch((e: unknown) => e);
    assert.ok(error instanceof DnsPropagationError, String(error));
    assert.deepEqual(
      error.lagging.map((l) => l.server),
      [server.address, closed],
    );
    assert.equal(error.lagging[0]!.reason, 'no answer');
    assert.match(error.lagging[1]!.reason, /connection refused/);
    assert.ok(!server.requests.some((r) => r.message.questions[0]!.type === 2), 'no NS lookup');
  });

  it('skips the propagation check when told to', async () => {
    const s = solver(zones.provider(), { propagationCheck: false });
    const ch = challenge('fast.example.test');
    await s.present(ch, signal());
    const before = server.requests.length;
    await s.wait(ch, signal());
    assert.equal(server.requests.length, before);
  });

  it('cleans up after a failed add, and without a present() at all', async () => {
    const failing = zones.provider({ failAdd: new Error('API down') });
    const s = solver(failing);
    const ch = challenge('broken.example.test');
    await assert.rejects(s.present(ch, signal()), /API down/);
    await s.cleanup(ch, signal());
    assert.match(failing.calls[1]!, /^remove _acme-challenge\.broken\.example\.test /);

    const fresh = zones.provider();
    await solver(fresh).cleanup(challenge('never.example.test'), signal());
    assert.match(fresh.calls[0]!, /^remove _acme-challenge\.never\.example\.test /);
  });

  it('forgets a challenge even when removing it fails, and rejects other challenge types', async () => {
    const provider = zones.provider({ failRemove: new Error('remove failed') });
    const s = solver(provider);
    const ch = challenge('sticky.example.test');
    await s.present(ch, signal());
    await assert.rejects(s.cleanup(ch, signal()), /remove failed/);
    await assert.rejects(s.wait(ch, signal()), /before present/);
    await assert.rejects(s.present({ ...ch, type: 'http-01' }, signal()), TypeError);
  });

  it('checks its options', () => {
    const provider = zones.provider();
    assert.throws(() => solver(provider, { pollingIntervalMs: 0 }), /pollingIntervalMs must be a positive/);
    assert.throws(() => solver(provider, { propagationTimeoutMs: Number.NaN }), /propagationTimeoutMs/);
    assert.throws(() => solver(provider, { checkServers: [] }), /checkServers is empty/);
    assert.throws(() => solver(provider, { resolvers: ['host:99999'] }), /invalid DNS server address/);
  });
});
