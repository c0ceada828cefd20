// DNS-01 end to end against real peers: RFC 2136 updates signed with TSIG against Knot DNS (every TSIG
// algorithm, UDP and TCP, the server's own error answers), then issuance from Pebble whose validator
// asks Knot (through a CNAME-following resolver, as a CA's would), with records checked over node:dns.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DnsClient } from '../../src/solvers/dns/client.js';
import { RRType } from '../../src/solvers/dns/constants.js';
import { DnsError, DnsPropagationError } from '../../src/solvers/dns/errors.js';
import { encodeMessage, newMessage } from '../../src/solvers/dns/message.js';
import type { DnsProvider, TxtRecord } from '../../src/solvers/dns/provider.js';
import { Rfc2136Provider, type Rfc2136ProviderOptions } from '../../src/solvers/dns/rfc2136.js';
import { exchange } from '../../src/solvers/dns/transport.js';
import { TSIG_ALGORITHMS } from '../../src/solvers/dns/tsig.js';
import { Dns01Solver, type Dns01SolverOptions } from '../../src/solvers/dns-01.js';
import type { ChallengeSolver } from '../../src/solvers/solver.js';
import { type Dns01Peers, recording, startDns01Peers } from './support/dns-01.js';
import { type RunningKnot, startKnot } from './support/knot.js';
import { freePort } from './support/processes.js';

const signal = () => AbortSignal.timeout(30_000);
const ZONES = ['example.test', 'validation.test'];
/** Delegated validation: the CA is sent from example.test's challenge name into validation.test. */
const RECORDS = { 'example.test': ['_acme-challenge.delegated CNAME delegated.validation.test.'] };
const ALGORITHM_KEYS = Object.keys(TSIG_ALGORITHMS).map((algorithm) => ({
  name: `key-${algorithm}`,
  algorithm,
  secret: randomBytes(32).toString('base64'),
}));

function providerFor(knot: RunningKnot, overrides: Partial<Rfc2136ProviderOptions> = {}): Rfc2136Provider {
  return new Rfc2136Provider({
    host: knot.host,
    port: knot.port,
    keyName: knot.tsig.name,
    secret: knot.tsig.secret,
    algorithm: knot.tsig.algorithm,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<DnsError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof DnsError, `expected a DnsError, got ${String(error)}`);
  return error;
}

describe('RFC 2136 updates signed with TSIG, against Knot', () => {
  let knot: RunningKnot;
  before(async () => {
    knot = await startKnot({ zones: ZONES, records: RECORDS, extraKeys: ALGORITHM_KEYS });
  });
  after(() => knot.stop());

  it('adds values beside each other and removes only the one named', async () => {
    const provider = providerFor(knot);
    const name = '_acme-challenge.add-remove.example.test';
    await provider.addTxt({ name, value: 'first' }, signal());
    await provider.addTxt({ name, value: 'second' }, signal());
    await provider.addTxt({ name, value: 'second' }, signal()); // adding twice is not an error
    assert.deepEqual((await knot.txt(name)).sort(), ['first', 'second']);
    await provider.removeTxt({ name, value: 'first' }, signal());
    assert.deepEqual(await knot.txt(name), ['second']);
    await provider.removeTxt({ name, value: 'first' }, signal()); // already gone: not an error
    await provider.removeTxt({ name, value: 'second' }, signal());
    assert.deepEqual(await knot.txt(name), []);
  });

  for (const key of ALGORITHM_KEYS) {
    it(`signs with ${key.algorithm} in a way Knot accepts, and verifies its signed answers`, async () => {
      const provider = providerFor(knot, { keyName: key.name, secret: key.secret, algorithm: key.algorithm });
      const name = `_acme-challenge.${key.algorithm}.example.test`;
      await provider.addTxt({ name, value: key.algorithm }, signal());
      assert.deepEqual(await knot.txt(name), [key.algorithm]);
      await provider.removeTxt({ name, value: key.algorithm }, signal());
      assert.deepEqual(await knot.txt(name), []);
    });
  }

  it('works over TCP only', async () => {
    const provider = providerFor(knot, { protocol: 'tcp', origin: 'example.test' });
    const name = '_acme-challenge.tcp.example.test';
    await provider.addTxt({ name, value: 'over-tcp' }, signal());
    assert.deepEqual(await knot.txt(name), ['over-tcp']);
    await provider.removeTxt({ name, value: 'over-tcp' }, signal());
    assert.deepEqual(await knot.txt(name), []);
  });

  it('switches to TCP when the UDP answer is truncated', async () => {
    const provider = providerFor(knot);
    const name = '_acme-challenge.many.example.test';
    const values = Array.from({ length: 40 }, (_, i) => `${i}-${'v'.repeat(40)}`);
    for (const value of values) await provider.addTxt({ name, value }, signal());
    const query = encodeMessage(
      newMessage({ id: 4242, questions: [{ name, type: RRType.TXT, class: 1 }], edns: { udpSize: 1232 } }),
    );
    const result = await exchange(knot, query, { protocol: 'udp', timeoutMs: 2_000 }, signal());
    assert.equal(result.protocol, 'tcp');
    const reply = await new DnsClient().query(knot, name, RRType.TXT, signal(), { recursive: false });
    assert.equal(reply.answers.length, 40);
    for (const value of values) await provider.removeTxt({ name, value }, signal());
    assert.deepEqual(await knot.txt(name), []);
  });

  it('finds the zone apex by walking up the labels', async () => {
    const provider = providerFor(knot);
    assert.equal(await provider.zoneFor({ name: 'a.b.example.test' }, signal()), 'example.test');
    assert.equal(await provider.zoneFor({ name: 'Deep.Name.Validation.Test.' }, signal()), 'validation.test');
    assert.equal(await provider.zoneFor({ name: 'example.test' }, signal()), 'example.test');
    const error = await rejection(provider.zoneFor({ name: 'x.not-served.test' }, signal()));
    assert.equal(error.kind, 'zone');
    assert.match(error.message, /no zone holding x\.not-served\.test found at 127\.0\.0\.1:\d+/);
  });

  it('reports a wrong secret as the server BADSIG answer, naming server, zone and record but not the secret', async () => {
    const wrong = randomBytes(32).toString('base64');
    const error = await rejection(
      providerFor(knot, { secret: wrong }).addTxt(
        { name: '_acme-challenge.bad.example.test', value: 'v' },
        signal(),
      ),
    );
    assert.equal(error.kind, 'tsig');
    assert.equal(error.rcode, 'BADSIG');
    assert.equal(error.server, knot.address);
    assert.equal(error.zone, 'example.test');
    assert.equal(error.record, 'TXT _acme-challenge.bad.example.test');
    assert.match(error.message, /rejected our TSIG signature \(BADSIG, RCODE NOTAUTH\)/);
    assert.ok(error.message.includes(knot.address) && error.message.includes('zone example.test'));
    assert.ok(!error.message.includes(wrong) && !error.message.includes(knot.tsig.secret));
    assert.equal(error.retryable, false);
    assert.deepEqual(await knot.txt('_acme-challenge.bad.example.test'), []);
  });

  it('reports a key the server does not know as BADKEY', async () => {
    const error = await rejection(
      providerFor(knot, { keyName: 'nobody' }).addTxt(
        { name: '_acme-challenge.example.test', value: 'v' },
        signal(),
      ),
    );
    assert.equal(error.rcode, 'BADKEY');
    assert.match(error.message, /does not know key "nobody"/);
  });

  it('reports an unsigned update as refused by policy (Knot answers NOTAUTH where BIND answers REFUSED)', async () => {
    const unsigned = providerFor(knot, { keyName: undefined, secret: undefined });
    const error = await rejection(
      unsigned.addTxt({ name: '_acme-challenge.example.test', value: 'v' }, signal()),
    );
    assert.equal(error.kind, 'rcode');
    assert.equal(error.rcode, 'NOTAUTH');
    assert.match(error.message, /unsigned update/);
    assert.deepEqual(await knot.txt('_acme-challenge.example.test'), []);
  });

  it('reports an update for a zone the server does not serve', async () => {
    const error = await rejection(
      providerFor(knot, { origin: 'elsewhere.test' }).addTxt(
        { name: '_acme-challenge.elsewhere.test', value: 'v' },
        signal(),
      ),
    );
    assert.equal(error.kind, 'rcode');
    assert.equal(error.zone, 'elsewhere.test');
    assert.match(
      error.message,
      /failed: (NOTAUTH|REFUSED) \(unsigned answer\): the server (is not authoritative|does not serve) /,
    );
  });

  it('reports an unreachable server as a retryable network error', async () => {
    const closed = await freePort();
    const error = await rejection(
      providerFor(knot, { port: closed, origin: 'example.test' }).addTxt(
        { name: '_acme-challenge.example.test', value: 'v' },
        signal(),
      ),
    );
    assert.equal(error.kind, 'network');
    assert.equal(error.retryable, true);
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${closed}.*connection refused`));
  });
});

/** Counts present() calls and lets wait() go on once `expected` challenges have been presented. */
function barrierSolver(
  inner: ChallengeSolver,
  expected: number,
  onAllPresented: () => Promise<void>,
): ChallengeSolver {
  let presented = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    type: inner.type,
    async present(challenge, s) {
      await inner.present(challenge, s);
      if (++presented === expected) {
        await onAllPresented();
        release();
      }
    },
    async wait(challenge, s) {
      await all;
      await inner.wait?.(challenge, s);
    },
    cleanup: (challenge, s) => inner.cleanup(challenge, s),
  };
}

const nameAndValue = (record: TxtRecord) => `${record.name} ${record.value}`;

describe('issuing certificates from Pebble over DNS-01 with RFC 2136', () => {
  let peers: Dns01Peers;
  let knot: RunningKnot;
  const challengeNames = new Set<string>();

  before(async () => {
    peers = await startDns01Peers({ zones: ZONES, records: RECORDS });
    knot = peers.knot;
  });
  after(() => peers?.stop());

  /** The solver as a deployment would use it, with Knot standing in for resolver and name servers. */
  function solverOptions(provider: DnsProvider): Dns01SolverOptions {
    return { provider, resolvers: [knot.address], nameserverPort: knot.port, pollingIntervalMs: 100 };
  }

  it('issues a certificate for one name and removes the record afterwards', async () => {
    const provider = recording(providerFor(knot));
    const issued = await peers
      .issuer(new Dns01Solver(solverOptions(provider)))
      .issue({ names: ['single.example.test'] }, signal());
    assert.deepEqual(issued.info.names, ['single.example.test']);
    assert.deepEqual(
      provider.added.map((r) => r.name),
      ['_acme-challenge.single.example.test'],
    );
    assert.deepEqual(provider.removed.map(nameAndValue), provider.added.map(nameAndValue));
    for (const record of provider.added) challengeNames.add(record.name);
    assert.deepEqual(await knot.txt('_acme-challenge.single.example.test'), []);
  });

  it('issues one certificate for a name and its wildcard, both values present at once', async () => {
    const provider = recording(providerFor(knot));
    let seenTogether: string[] = [];
    const solver = barrierSolver(new Dns01Solver(solverOptions(provider)), 2, async () => {
      seenTogether = await knot.txt('_acme-challenge.example.test');
    });
    const issued = await peers.issuer(solver).issue({ names: ['example.test', '*.example.test'] }, signal());
    assert.deepEqual([...issued.info.names].sort(), ['*.example.test', 'example.test']);
    assert.equal(seenTogether.length, 2, 'the two challenge values coexist in one TXT set');
    assert.deepEqual(seenTogether.sort(), provider.added.map((r) => r.value).sort());
    challengeNames.add('_acme-challenge.example.test');
    assert.deepEqual(await knot.txt('_acme-challenge.example.test'), []);
  });

  it('follows a CNAME at the challenge name and writes into the delegated zone', async () => {
    const provider = recording(providerFor(knot));
    const issued = await peers
      .issuer(new Dns01Solver(solverOptions(provider)))
      .issue({ names: ['delegated.example.test'] }, signal());
    assert.deepEqual(issued.info.names, ['delegated.example.test']);
    assert.deepEqual(
      provider.added.map((r) => r.name),
      ['delegated.validation.test'],
    );
    challengeNames.add('delegated.validation.test');
    assert.deepEqual(await knot.txt('delegated.validation.test'), []);
  });

  it('times out naming the servers that never show the record, and still removes it', async () => {
    const empty = await startKnot({ zones: [] });
    try {
      const closed = await freePort();
      const provider = recording(providerFor(knot));
      const solver = new Dns01Solver({
        ...solverOptions(provider),
        checkServers: [knot.address, empty.address, `127.0.0.1:${closed}`],
        propagationTimeoutMs: 1_500,
        pollingIntervalMs: 200,
      });
      const started = Date.now();
      const error = await peers
        .issuer(solver)
        .issue({ names: ['lagging.example.test'] }, signal())
        .then(
          () => assert.fail('issuance should fail'),
          (reason: unknown) => reason,
        );
      assert.ok(error instanceof DnsPropagationError, String(error));
      assert.ok(Date.now() - started >= 1_500);
      assert.deepEqual(
        error.lagging.map((entry) => entry.server),
        [empty.address, `127.0.0.1:${closed}`],
      );
      assert.match(error.message, new RegExp(`${empty.address} \\(REFUSED\\)`));
      assert.match(error.message, /connection refused/);
      assert.ok(!error.message.includes(`${knot.address} (`), 'the up-to-date server is not blamed');
      assert.equal(error.retryable, true);
      assert.deepEqual(
        provider.removed.map(nameAndValue),
        provider.added.map(nameAndValue),
        'cleanup ran after the failure',
      );
      assert.deepEqual(await knot.txt('_acme-challenge.lagging.example.test'), []);
      challengeNames.add('_acme-challenge.lagging.example.test');
    } finally {
      await empty.stop();
    }
  });

  it('leaves no TXT record behind and keeps the static CNAME', async () => {
    assert.ok(challengeNames.size >= 4);
    for (const name of challengeNames) assert.deepEqual(await knot.txt(name), [], name);
    const cname = await new DnsClient().query(
      knot,
      '_acme-challenge.delegated.example.test',
      RRType.CNAME,
      signal(),
    );
    assert.equal(cname.answers[0]?.data.kind, 'CNAME');
  });
});
