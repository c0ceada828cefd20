// Issuance through the library against a real Pebble, proving names over HTTP-01 with the challenge
// server listening on Pebble's http-01 validation port; also the solver preference order, with a
// TLS-ALPN-01 listener beside it, and the failure when nothing answers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nodeFetch } from '../../src/acme/fetch.js';
import { ChallengeFailedError } from '../../src/errors.js';
import { AcmeIssuer } from '../../src/issuers/acme-issuer.js';
import type { IssueProgress } from '../../src/issuers/issuer.js';
import { createSharedTlsListener, type SharedTlsListener } from '../../src/server/alpn-tls-server.js';
import {
  createHttpChallengeServer,
  type HttpChallengeEvent,
  type HttpChallengeServer,
} from '../../src/server/http-challenge.js';
import { Http01Solver, HttpChallenges } from '../../src/solvers/http-01.js';
import type { ChallengeSolver, ChallengeType } from '../../src/solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../../src/solvers/tls-alpn-01.js';
import { FileStorage } from '../../src/storage/fs.js';
import { type RunningPebble, startPebble } from './support/pebble.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-http01-'));
after(() => rm(scratch, { recursive: true, force: true }));

const signal = () => AbortSignal.timeout(60_000);

interface Rig {
  pebble: RunningPebble;
  http: HttpChallenges;
  tls: TlsAlpnChallenges;
  httpEvents: HttpChallengeEvent[];
  /** Starts the HTTP-01 server on Pebble's http port (once). */
  startHttp(): Promise<void>;
  /** Starts the TLS-ALPN-01 listener on Pebble's tls port (once). */
  startTls(): Promise<void>;
  issuer(solvers: ChallengeSolver[]): { issuer: AcmeIssuer; events: IssueProgress[] };
  stop(): Promise<void>;
}

async function startRig(): Promise<Rig> {
  const pebble = await startPebble();
  const http = new HttpChallenges();
  const tls = new TlsAlpnChallenges();
  const httpEvents: HttpChallengeEvent[] = [];
  let httpServer: HttpChallengeServer | undefined;
  let tlsListener: SharedTlsListener | undefined;
  let counter = 0;
  return {
    pebble,
    http,
    tls,
    httpEvents,
    async startHttp() {
      httpServer ??= createHttpChallengeServer({ challenges: http, onEvent: (e) => httpEvents.push(e) });
      if (!httpServer.server.listening) await httpServer.listen(pebble.httpPort, '127.0.0.1');
    },
    async startTls() {
      tlsListener ??= createSharedTlsListener({ challenges: tls });
      if (!tlsListener.server.listening) await tlsListener.listen(pebble.tlsPort, '127.0.0.1');
    },
    issuer(solvers) {
      const events: IssueProgress[] = [];
      const issuer = new AcmeIssuer({
        directoryUrl: pebble.directoryUrl,
        storage: new FileStorage({ root: join(scratch, `cache-${++counter}`) }),
        contact: ['admin@example.test'],
        solvers,
        fetch: nodeFetch({ ca: pebble.caPem }),
        onProgress: (event) => events.push(event),
      });
      return { issuer, events };
    },
    async stop() {
      await httpServer?.close();
      await tlsListener?.close();
      await pebble.stop();
    },
  };
}

/** The challenge type each name was proven with, from the issuer's progress events. */
function challengeTypes(events: readonly IssueProgress[]): Map<string, ChallengeType> {
  const types = new Map<string, ChallengeType>();
  for (const event of events) {
    if (event.step === 'authorization' && event.state !== 'already-valid')
      types.set(event.domain, event.challenge);
  }
  return types;
}

/** Wraps a solver to count its present() calls. */
function counted(solver: ChallengeSolver): ChallengeSolver & { presents: number } {
  const wrapper = {
    type: solver.type,
    presents: 0,
    present: (challenge: Parameters<ChallengeSolver['present']>[0], s: AbortSignal) => {
      wrapper.presents++;
      return solver.present(challenge, s);
    },
    cleanup: (challenge: Parameters<ChallengeSolver['cleanup']>[0], s: AbortSignal) =>
      solver.cleanup(challenge, s),
  };
  return wrapper;
}

describe('issuing certificates from Pebble over HTTP-01', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
    await rig.startHttp();
    await rig.startTls();
  });
  after(() => rig.stop());

  it('issues a certificate for one name, answering over HTTP, and leaves no answer behind', async () => {
    const { issuer, events } = rig.issuer([new Http01Solver(rig.http)]);
    const before = rig.httpEvents.length;
    const issued = await issuer.issue({ names: ['http-one.example.test'] }, signal());
    assert.deepEqual(issued.info.names, ['http-one.example.test']);
    assert.equal(challengeTypes(events).get('http-one.example.test'), 'http-01');
    assert.ok(
      rig.httpEvents.slice(before).some((e) => e.type === 'challenge-answered'),
      'Pebble fetched the key authorization from the challenge server',
    );
    assert.equal(rig.http.size, 0, 'no challenge answer is left behind');
  });

  it('issues one certificate for several names, proving each over HTTP', async () => {
    const { issuer, events } = rig.issuer([new Http01Solver(rig.http)]);
    const names = ['http-multi.example.test', 'www.http-multi.example.test', 'mail.http-multi.example.test'];
    const issued = await issuer.issue({ names }, signal());
    assert.deepEqual([...issued.info.names].sort(), [...names].sort());
    const types = challengeTypes(events);
    assert.deepEqual([...types.keys()].sort(), [...names].sort());
    assert.ok([...types.values()].every((type) => type === 'http-01'));
    const proven = events.filter((e) => e.step === 'authorization' && e.state === 'valid');
    assert.equal(proven.length, names.length);
    assert.equal(rig.http.size, 0);
  });

  it('uses the first preferred type the CA offers: [http-01, tls-alpn-01] proves over HTTP', async () => {
    const http = counted(new Http01Solver(rig.http));
    const tls = counted(new TlsAlpn01Solver(rig.tls));
    const { issuer, events } = rig.issuer([http, tls]);
    await issuer.issue({ names: ['prefer-http.example.test'] }, signal());
    assert.equal(challengeTypes(events).get('prefer-http.example.test'), 'http-01');
    assert.equal(http.presents, 1);
    assert.equal(tls.presents, 0);
  });

  it('... and [tls-alpn-01, http-01] proves over TLS-ALPN', async () => {
    const http = counted(new Http01Solver(rig.http));
    const tls = counted(new TlsAlpn01Solver(rig.tls));
    const { issuer, events } = rig.issuer([tls, http]);
    await issuer.issue({ names: ['prefer-tls.example.test'] }, signal());
    assert.equal(challengeTypes(events).get('prefer-tls.example.test'), 'tls-alpn-01');
    assert.equal(http.presents, 0);
    assert.equal(tls.presents, 1);
    assert.equal(rig.tls.size, 0);
  });
});

describe('HTTP-01 when nothing answers', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(() => rig.stop());

  it('fails with a ChallengeFailedError naming the domain, and cleans up', async () => {
    const { issuer, events } = rig.issuer([new Http01Solver(rig.http)]);
    await assert.rejects(
      issuer.issue({ names: ['http-silent.example.test'] }, signal()),
      (error: unknown) => {
        assert.ok(error instanceof ChallengeFailedError, String(error));
        assert.equal(error.domain, 'http-silent.example.test');
        assert.match(error.message, /http-silent\.example\.test: http-01 validation failed: \w+: .+/);
        assert.ok(error.problem?.detail, 'the CA detail is kept');
        return true;
      },
    );
    assert.equal(challengeTypes(events).get('http-silent.example.test'), 'http-01');
    assert.equal(rig.http.size, 0);
  });

  it('falls back to the next preferred type on the next order when validation of the first failed', async () => {
    // Only the HTTP server runs: tls-alpn-01, preferred and offered, fails; the issuer remembers that for
    // the name, and its next order proves it over http-01 instead.
    await rig.startHttp();
    const http = counted(new Http01Solver(rig.http));
    const { issuer, events } = rig.issuer([new TlsAlpn01Solver(rig.tls), http]);
    await assert.rejects(
      issuer.issue({ names: ['http-fallback.example.test'] }, signal()),
      (error: unknown) => {
        assert.ok(error instanceof ChallengeFailedError, String(error));
        assert.equal(error.domain, 'http-fallback.example.test');
        assert.match(error.message, /tls-alpn-01 validation failed/);
        return true;
      },
    );
    assert.equal(challengeTypes(events).get('http-fallback.example.test'), 'tls-alpn-01');
    assert.equal(http.presents, 0);
    events.length = 0;
    await issuer.issue({ names: ['http-fallback.example.test'] }, signal());
    assert.equal(challengeTypes(events).get('http-fallback.example.test'), 'http-01');
    assert.equal(http.presents, 1);
  });
});
