// Issuance through the library against a real Pebble, proving names over TLS-ALPN-01 with the shared
// listener on Pebble's validation port. Pebble keeps its default 5 % badNonce rejection on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { nodeFetch } from '../../src/acme/fetch.js';
import { keyTypeOf } from '../../src/crypto/keys.js';
import { AcmeProblemError, ChallengeFailedError } from '../../src/errors.js';
import { AcmeIssuer, type AcmeIssuerOptions } from '../../src/issuers/acme-issuer.js';
import type { IssueProgress } from '../../src/issuers/issuer.js';
import { CertificateStore } from '../../src/manager/certificate-store.js';
import { createSharedTlsListener, type SharedTlsListener } from '../../src/server/alpn-tls-server.js';
import type { ChallengeSolver } from '../../src/solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../../src/solvers/tls-alpn-01.js';
import { FileStorage } from '../../src/storage/fs.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { getTestCa } from './support/test-ca.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-issuance-'));
after(() => rm(scratch, { recursive: true, force: true }));

interface Rig {
  pebble: RunningPebble;
  challenges: TlsAlpnChallenges;
  listener: SharedTlsListener;
  issuer(overrides?: Partial<AcmeIssuerOptions> & { cache?: string }): {
    issuer: AcmeIssuer;
    storage: FileStorage;
    events: IssueProgress[];
  };
  stop(): Promise<void>;
}

/** Pebble plus a TLS-ALPN-01 responder on its validation port, with a regular tls.Server behind it. */
async function startRig(pebbleOptions: Parameters<typeof startPebble>[0] = {}): Promise<Rig> {
  const pebble = await startPebble(pebbleOptions);
  const challenges = new TlsAlpnChallenges();
  const ca = await getTestCa();
  const regular = tls.createServer({ cert: ca.serverCertPem, key: ca.serverKeyPem }, (socket) =>
    socket.end('regular\n'),
  );
  const listener = createSharedTlsListener({ challenges, tlsServer: regular });
  await listener.listen(pebble.tlsPort, '127.0.0.1');
  let counter = 0;
  return {
    pebble,
    challenges,
    listener,
    issuer(overrides = {}) {
      const storage = new FileStorage({ root: overrides.cache ?? join(scratch, `cache-${++counter}`) });
      const events: IssueProgress[] = [];
      const issuer = new AcmeIssuer({
        directoryUrl: pebble.directoryUrl,
        storage,
        contact: ['admin@example.test'],
        solvers: [new TlsAlpn01Solver(challenges)],
        fetch: nodeFetch({ ca: pebble.caPem }),
        onProgress: (event) => events.push(event),
        ...overrides,
      });
      return { issuer, storage, events };
    },
    async stop() {
      await listener.close();
      regular.close();
      await pebble.stop();
    },
  };
}

/** `openssl verify` of the leaf against Pebble's root with the intermediates as untrusted. */
async function verifyWithOpenssl(
  pebble: RunningPebble,
  certificatePem: string,
  chainPem: string,
): Promise<string> {
  const dir = await mkdtemp(join(scratch, 'verify-'));
  await writeFile(join(dir, 'root.pem'), await pebble.rootPem());
  await writeFile(join(dir, 'chain.pem'), chainPem);
  await writeFile(join(dir, 'leaf.pem'), certificatePem);
  return execFileSync(
    'openssl',
    ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')],
    { encoding: 'utf8' },
  );
}

const signal = () => AbortSignal.timeout(60_000);

describe('issuing certificates from Pebble over TLS-ALPN-01', () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig();
  });
  after(() => rig.stop());

  it('issues a certificate for one name whose chain verifies against the Pebble root', async () => {
    const { issuer } = rig.issuer();
    const issued = await issuer.issue({ names: ['one.example.test'] }, signal());
    assert.deepEqual(issued.info.names, ['one.example.test']);
    assert.equal(keyTypeOf(issued.privateKey), 'ec256');
    assert.ok(new X509Certificate(issued.certificatePem).checkPrivateKey(issued.privateKey));
    assert.match(
      await verifyWithOpenssl(rig.pebble, issued.certificatePem, issued.chainPem),
      /leaf\.pem: OK/,
    );
    assert.equal(rig.challenges.size, 0, 'no challenge answer is left behind');
  });

  it('issues one certificate for several names, proving each', async () => {
    const { issuer, events } = rig.issuer();
    const names = ['multi.example.test', 'www.multi.example.test', 'mail.multi.example.test'];
    const issued = await issuer.issue({ names }, signal());
    assert.deepEqual([...issued.info.names].sort(), [...names].sort());
    const proven = events.filter(
      (e) => e.step === 'authorization' && (e.state === 'valid' || e.state === 'already-valid'),
    );
    assert.deepEqual(proven.map((e) => (e as { domain: string }).domain).sort(), [...names].sort());
  });

  for (const keyType of ['rsa2048', 'ec384'] as const) {
    it(`issues a certificate with a ${keyType} key`, async () => {
      const { issuer } = rig.issuer({ keyType });
      const issued = await issuer.issue({ names: [`${keyType}.example.test`] }, signal());
      assert.equal(keyTypeOf(issued.privateKey), keyType);
      assert.match(await verifyWithOpenssl(rig.pebble, issued.certificatePem, issued.chainPem), /OK/);
    });
  }

  it('serves the regular certificate to a normal TLS client while a challenge is pending', async () => {
    let seenByNormalClient: string | undefined;
    const inspecting: ChallengeSolver = {
      type: 'tls-alpn-01',
      present: async (challenge, s) => {
        await new TlsAlpn01Solver(rig.challenges).present(challenge, s);
        seenByNormalClient = await new Promise<string>((resolve, reject) => {
          const socket = tls.connect(
            {
              host: '127.0.0.1',
              port: rig.pebble.tlsPort,
              servername: challenge.domain,
              rejectUnauthorized: false,
            },
            () => {
              resolve(socket.getPeerX509Certificate()?.subject ?? '');
              socket.destroy();
            },
          );
          socket.on('error', reject);
        });
      },
      cleanup: (challenge, s) => new TlsAlpn01Solver(rig.challenges).cleanup(challenge, s),
    };
    const { issuer } = rig.issuer({ solvers: [inspecting] });
    await issuer.issue({ names: ['pending.example.test'] }, signal());
    assert.match(seenByNormalClient ?? '', /CN=localhost/);
  });

  it('reuses the stored account on a second run', async () => {
    const cache = join(scratch, 'reuse');
    const first = rig.issuer({ cache });
    await first.issuer.issue({ names: ['reuse.example.test'] }, signal());
    const second = rig.issuer({ cache });
    await second.issuer.issue({ names: ['reuse.example.test'] }, signal());
    const [a] = first.events.filter((e) => e.step === 'account');
    const [b] = second.events.filter((e) => e.step === 'account');
    assert.ok(a && a.step === 'account' && a.created);
    assert.ok(b && b.step === 'account' && !b.created, 'the second run must not register again');
    assert.equal(a.url, b.url);
  });

  it('stores the certificate so that it loads back whole, with the key files private', async () => {
    const cache = join(scratch, 'store');
    const { issuer, storage } = rig.issuer({ cache });
    const issued = await issuer.issue({ names: ['stored.example.test'] }, signal());
    const store = new CertificateStore(storage);
    const saved = await store.save(issuer.id, issued, signal());
    const loaded = await store.load(issuer.id, ['stored.example.test'], signal());
    assert.equal(loaded?.info.serialNumber, issued.info.serialNumber);
    assert.equal(loaded?.fullchainPem, issued.fullchainPem);
    assert.deepEqual((await readdir(join(cache, saved.keys.folder))).sort(), [
      'cert.pem',
      'chain.pem',
      'fullchain.pem',
      'metadata.json',
      'privkey.pem',
    ]);
  });

  it('fails with the domain and the CA detail when nothing answers the challenge, and stores nothing', async () => {
    const cache = join(scratch, 'unanswered');
    const silent: ChallengeSolver = { type: 'tls-alpn-01', present: async () => {}, cleanup: async () => {} };
    const { issuer, storage } = rig.issuer({ cache, solvers: [silent] });
    await assert.rejects(issuer.issue({ names: ['silent.example.test'] }, signal()), (error: unknown) => {
      assert.ok(error instanceof ChallengeFailedError, String(error));
      assert.equal(error.domain, 'silent.example.test');
      assert.match(error.message, /silent\.example\.test: tls-alpn-01 validation failed: \w+: .+/);
      assert.ok(error.problem?.detail, 'the CA detail is kept');
      return true;
    });
    assert.deepEqual(await storage.list('certificates', { recursive: true }), []);
  });

  it('fails naming the domain when the answer carries a wrong key authorization', async () => {
    const inner = new TlsAlpn01Solver(rig.challenges);
    const wrong: ChallengeSolver = {
      type: 'tls-alpn-01',
      present: (challenge, s) =>
        inner.present({ ...challenge, keyAuthorization: `${challenge.token}.wrong` }, s),
      cleanup: (challenge, s) =>
        inner.cleanup({ ...challenge, keyAuthorization: `${challenge.token}.wrong` }, s),
    };
    const { issuer } = rig.issuer({ solvers: [wrong] });
    await assert.rejects(issuer.issue({ names: ['wrongkey.example.test'] }, signal()), (error: unknown) => {
      assert.ok(error instanceof ChallengeFailedError);
      assert.equal(error.domain, 'wrongkey.example.test');
      assert.match(error.message, /wrongkey\.example\.test/);
      return true;
    });
    assert.equal(rig.challenges.size, 0);
  });
});

describe('recovering from a CA that forgot the account', () => {
  it('registers a new account when Pebble restarted and lost the stored one', async () => {
    const rig = await startRig();
    try {
      const cache = join(scratch, 'restart');
      const before = rig.issuer({ cache });
      await before.issuer.issue({ names: ['restart.example.test'] }, signal());
      await rig.pebble.restart();
      const afterRestart = rig.issuer({ cache });
      const issued = await afterRestart.issuer.issue({ names: ['restart.example.test'] }, signal());
      assert.match(await verifyWithOpenssl(rig.pebble, issued.certificatePem, issued.chainPem), /OK/);
      const accounts = afterRestart.events.filter((e) => e.step === 'account');
      assert.equal(accounts.length, 2, 'the stored account is tried, then a new one is registered');
      assert.ok(accounts[1]?.step === 'account' && accounts[1].created);
    } finally {
      await rig.stop();
    }
  });
});

describe('a CA that rejects half of all nonces', () => {
  it('still issues, retrying badNonce transparently', async () => {
    const rig = await startRig({ nonceRejectPercent: 50 });
    try {
      const { issuer } = rig.issuer();
      const issued = await issuer.issue({ names: ['nonce.example.test', 'nonce2.example.test'] }, signal());
      assert.equal(issued.info.names.length, 2);
    } finally {
      await rig.stop();
    }
  });
});

describe('external account binding', () => {
  it('registers with the EAB key id and HMAC key a CA requires, and is refused without them', async () => {
    const hmacKey = Buffer.from('an EAB MAC key of 32 bytes ......').toString('base64url');
    const rig = await startRig({ eabKeys: { 'kid-1': hmacKey } });
    try {
      const bound = rig.issuer({ externalAccountBinding: { kid: 'kid-1', hmacKey } });
      const issued = await bound.issuer.issue({ names: ['eab.example.test'] }, signal());
      assert.deepEqual(issued.info.names, ['eab.example.test']);
      const unbound = rig.issuer();
      await assert.rejects(
        unbound.issuer.issue({ names: ['eab.example.test'] }, signal()),
        /external account binding/,
      );
      const wrong = rig.issuer({
        externalAccountBinding: { kid: 'kid-1', hmacKey: Buffer.alloc(32, 7).toString('base64url') },
      });
      await assert.rejects(wrong.issuer.issue({ names: ['eab.example.test'] }, signal()), AcmeProblemError);
    } finally {
      await rig.stop();
    }
  });
});

describe('alternate chains', () => {
  it('picks the chain whose root matches the preferred issuer name, and the default chain otherwise', async () => {
    const rig = await startRig({ env: { PEBBLE_ALTERNATE_ROOTS: '1', PEBBLE_VA_NOSLEEP: '1' } });
    try {
      const alternateRoot = new X509Certificate(await rig.pebble.rootPem(1));
      const rootName = /CN=(.*)/.exec(alternateRoot.subject)?.[1] ?? '';
      const preferring = rig.issuer({ preferredChain: rootName });
      const chosen = await preferring.issuer.issue({ names: ['chain.example.test'] }, signal());
      const topIssuer = (pem: string) =>
        new X509Certificate(pem.split(/(?=-----BEGIN CERTIFICATE-----)/).at(-1) ?? '').issuer;
      assert.match(topIssuer(chosen.fullchainPem), new RegExp(`CN=${rootName}`));
      const plain = rig.issuer();
      const normal = await plain.issuer.issue({ names: ['chain.example.test'] }, signal());
      assert.doesNotMatch(topIssuer(normal.fullchainPem), new RegExp(`CN=${rootName}`));
      const download = plain.events.find((e) => e.step === 'download');
      assert.ok(
        download && download.step === 'download' && download.alternates >= 1,
        'Pebble offered an alternate',
      );
    } finally {
      await rig.stop();
    }
  });
});
