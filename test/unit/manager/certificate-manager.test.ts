import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SecureContext } from 'node:tls';
import { AcmeProblemError } from '../../../src/errors.js';
import type { IssueRequest, Issuer } from '../../../src/issuers/issuer.js';
import { CertificateManager, type ManagerEvents } from '../../../src/manager/certificate-manager.js';
import { CertificateStore } from '../../../src/manager/certificate-store.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { fakeIssuedCertificate } from '../support/certificates.js';
import { ManualClock, settle } from '../support/manual-clock.js';

const DAY = 86_400_000;
const MINUTE = 60_000;

/** An issuer that makes self-signed certificates valid for `lifetime` from the clock's now, or fails on demand. */
class FakeIssuer implements Issuer {
  readonly id = 'fake-ca';
  readonly requests: IssueRequest[] = [];
  failures: Error[] = [];
  constructor(
    readonly clock: ManualClock,
    readonly lifetime = 90 * DAY,
  ) {}
  async issue(request: IssueRequest) {
    this.requests.push(request);
    const failure = this.failures.shift();
    if (failure) throw failure;
    const now = this.clock.now();
    return await fakeIssuedCertificate(
      request.names,
      new Date(now - 1000),
      new Date(now + this.lifetime),
      request.privateKey,
    );
  }
}

function setUp(options: { lifetime?: number } = {}) {
  const clock = new ManualClock();
  const storage = new MemoryStorage();
  const issuer = new FakeIssuer(clock, options.lifetime);
  const manager = new CertificateManager({ storage, clock, random: () => 0 });
  const events: { name: string; payload: unknown }[] = [];
  for (const name of ['obtaining', 'obtained', 'renewal-failed', 'certificate-installed'] as const) {
    manager.events.on(name, (payload: ManagerEvents[typeof name]) => events.push({ name, payload }));
  }
  return { clock, storage, issuer, manager, events };
}

/** Resolves after the next attempt's outcome: a certificate installed, or a failure recorded. */
function nextOutcome(manager: CertificateManager): Promise<void> {
  return new Promise((resolve) => {
    const offs = [
      manager.events.on('certificate-installed', () => done()),
      manager.events.on('renewal-failed', () => done()),
    ];
    const done = () => {
      for (const off of offs) off();
      // Let the scheduler reach its next sleep before the test moves the clock again.
      settle().then(resolve);
    };
  });
}

/** Moves the clock and waits for the attempt it triggers to finish. */
async function advanceThroughAttempt(
  manager: CertificateManager,
  clock: ManualClock,
  ms: number,
): Promise<void> {
  const outcome = nextOutcome(manager);
  await clock.advance(ms);
  await outcome;
}

/** Starts the manager and waits for its first attempt (there is nothing stored). */
async function startAndObtain(manager: CertificateManager): Promise<void> {
  const outcome = nextOutcome(manager);
  await manager.start();
  await outcome;
}

/** Serial of the certificate a SecureContext would present (read back through a throwaway TLS socket is overkill). */
async function servedSerial(
  manager: CertificateManager,
  name: string | undefined,
): Promise<string | undefined> {
  const status = manager.status().find((s) => s.names.includes(name ?? ''));
  const context: SecureContext | undefined = await manager.secureContextFor(name);
  return context ? status?.serialNumber : undefined;
}

describe('CertificateManager', () => {
  it('obtains a missing certificate in the background and then serves it by name', async () => {
    const { manager, issuer, events } = setUp();
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(issuer.requests.length, 1);
    assert.ok(await manager.secureContextFor('mail.example.org'));
    assert.deepEqual(
      events.map((e) => e.name),
      ['obtaining', 'obtained', 'certificate-installed'],
    );
    assert.deepEqual(events[0]?.payload, { id: 'le', names: ['mail.example.org'], reason: 'missing' });
    await manager.stop();
  });

  it('serves a stored certificate at start without asking the CA', async () => {
    const { manager, issuer, storage, clock } = setUp();
    const now = clock.now();
    await new CertificateStore(storage).save(
      issuer.id,
      await fakeIssuedCertificate(['mail.example.org'], new Date(now - DAY), new Date(now + 80 * DAY)),
      AbortSignal.timeout(5000),
    );
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(issuer.requests.length, 0);
    assert.ok(await manager.secureContextFor('mail.example.org'));
    await manager.stop();
  });

  it('renews by itself when the due time comes and serves the new certificate', async () => {
    const { manager, issuer, clock } = setUp();
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    const first = manager.status()[0]?.serialNumber;
    await clock.advance(59 * DAY);
    assert.equal(issuer.requests.length, 1, 'not due before notAfter - renew-before');
    await advanceThroughAttempt(manager, clock, 2 * DAY);
    assert.equal(issuer.requests.length, 2);
    const second = manager.status()[0]?.serialNumber;
    assert.notEqual(second, first);
    assert.equal(await servedSerial(manager, 'mail.example.org'), second);
    await manager.stop();
  });

  it('keeps serving the old certificate when renewal fails, and retries with doubling backoff', async () => {
    const { manager, issuer, clock, events } = setUp();
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    const original = manager.status()[0]?.serialNumber;
    issuer.failures = [new Error('CA down'), new Error('CA down'), new Error('CA down')];
    await advanceThroughAttempt(manager, clock, 60 * DAY);
    assert.equal(issuer.requests.length, 2);
    const failed = events.filter((e) => e.name === 'renewal-failed');
    assert.equal(failed.length, 1);
    assert.equal(manager.status()[0]?.serialNumber, original, 'the old certificate stays installed');
    assert.ok(await manager.secureContextFor('mail.example.org'));
    assert.equal(manager.status()[0]?.lastError, 'CA down');

    await advanceThroughAttempt(manager, clock, MINUTE);
    assert.equal(issuer.requests.length, 3, 'first retry after one minute');
    await clock.advance(2 * MINUTE - 1);
    assert.equal(issuer.requests.length, 3, 'second retry waits two minutes');
    await advanceThroughAttempt(manager, clock, 1);
    assert.equal(issuer.requests.length, 4);
    await clock.advance(4 * MINUTE - 1);
    assert.equal(issuer.requests.length, 4, 'third retry waits four minutes');
    await advanceThroughAttempt(manager, clock, 1);
    assert.equal(issuer.requests.length, 5);
    assert.notEqual(manager.status()[0]?.serialNumber, original, 'renewed once the CA is back');
    assert.equal(manager.status()[0]?.failures, 0);
    await manager.stop();
  });

  it('never retries sooner than the Retry-After the CA asked for', async () => {
    const { manager, issuer, clock } = setUp();
    issuer.failures = [
      new AcmeProblemError(
        { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down', status: 429 },
        { retryAfter: new Date(clock.now() + 3 * 3_600_000) },
      ),
    ];
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(issuer.requests.length, 1);
    await clock.advance(3 * 3_600_000 - 1);
    assert.equal(issuer.requests.length, 1);
    await advanceThroughAttempt(manager, clock, 1);
    assert.equal(issuer.requests.length, 2);
    await manager.stop();
  });

  it('caps renew-before at half the lifetime so short-lived certificates do not renew in a loop', async () => {
    const { manager, issuer, clock } = setUp({ lifetime: 10 * MINUTE });
    manager.add({ id: 'le', names: ['short.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    await clock.advance(4 * MINUTE);
    assert.equal(issuer.requests.length, 1);
    await advanceThroughAttempt(manager, clock, 2 * MINUTE);
    assert.equal(issuer.requests.length, 2);
    await manager.stop();
  });

  it('renews on demand with force even when not due, and not without it', async () => {
    const { manager, issuer } = setUp();
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(await manager.renew('le'), undefined);
    assert.equal(issuer.requests.length, 1);
    const forced = await manager.renew('le', { force: true });
    assert.ok(forced);
    assert.equal(issuer.requests.length, 2);
    assert.equal(manager.status()[0]?.serialNumber, forced.info.serialNumber);
    await manager.stop();
  });

  it('keeps the private key across renewals only when asked to (reuse-key)', async () => {
    const keyOf = async (storage: MemoryStorage, issuer: FakeIssuer) =>
      (
        await new CertificateStore(storage).load(issuer.id, ['mail.example.org'], AbortSignal.timeout(5000))
      )?.privateKey
        .export({ type: 'pkcs8', format: 'der' })
        .toString('hex');
    for (const reuseKey of [true, false]) {
      const { manager, issuer, storage } = setUp();
      manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY, reuseKey });
      await startAndObtain(manager);
      const before = await keyOf(storage, issuer);
      await manager.renew('le', { force: true });
      const after = await keyOf(storage, issuer);
      assert.equal(issuer.requests.length, 2);
      if (reuseKey) assert.equal(after, before, 'reuse-key keeps the key');
      else assert.notEqual(after, before, 'a fresh key by default');
      await manager.stop();
    }
  });

  it('keeps serving the current certificate while replaced settings obtain a new one', async () => {
    const { manager, issuer } = setUp();
    const spec = { id: 'le', names: ['a.example.org', 'b.example.org'], issuer, renewBeforeMs: 30 * DAY };
    manager.add(spec);
    await startAndObtain(manager);
    const original = manager.status()[0]?.serialNumber;

    // Same names, other settings: the certificate carries over, nothing is obtained.
    manager.replace({ ...spec, renewBeforeMs: 20 * DAY });
    await settle();
    assert.equal(issuer.requests.length, 1);
    assert.equal(manager.status()[0]?.serialNumber, original);

    // Other names while the CA fails: the old certificate still serves its names.
    issuer.failures = [new Error('CA down')];
    const failed = nextOutcome(manager);
    manager.replace({ ...spec, names: ['a.example.org', 'c.example.org'] });
    await failed;
    assert.ok(await manager.secureContextFor('a.example.org', { fallback: false }), 'a is still served');
    assert.ok(await manager.secureContextFor('b.example.org', { fallback: false }), 'b is still served');
    assert.equal(await manager.secureContextFor('c.example.org', { fallback: false }), undefined);

    // Once the new certificate arrives it takes over, and b (no longer configured) is dropped.
    const installed = nextOutcome(manager);
    await manager.renew('le');
    await installed;
    assert.ok(await manager.secureContextFor('c.example.org', { fallback: false }));
    assert.equal(await manager.secureContextFor('b.example.org', { fallback: false }), undefined);
    await manager.stop();
  });

  it('obtains a new certificate when the stored key does not belong to the stored certificate (a torn write)', async () => {
    const { manager, issuer, storage, clock } = setUp();
    const now = clock.now();
    const store = new CertificateStore(storage);
    const saved = await store.save(
      issuer.id,
      await fakeIssuedCertificate(['mail.example.org'], new Date(now - DAY), new Date(now + 80 * DAY)),
      AbortSignal.timeout(5000),
    );
    const stranger = await fakeIssuedCertificate(
      ['other.example.org'],
      new Date(now - DAY),
      new Date(now + DAY),
    );
    await storage.put(
      saved.keys.privateKey,
      Buffer.from(stranger.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    );
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(issuer.requests.length, 0, 'the metadata alone looks fine');
    const replaced = nextOutcome(manager);
    assert.equal(await manager.secureContextFor('mail.example.org', { fallback: false }), undefined);
    await clock.advance(0);
    await replaced;
    assert.equal(
      issuer.requests.length,
      1,
      'the mismatch is noticed on first use and a new certificate obtained',
    );
    assert.ok(await manager.secureContextFor('mail.example.org', { fallback: false }));
    await manager.stop();
  });

  it('chooses by exact name, then wildcard, then the default certificate', async () => {
    const { manager, issuer, clock } = setUp();
    const now = clock.now();
    const pem = async (names: string[]) => {
      const issued = await fakeIssuedCertificate(names, new Date(now - DAY), new Date(now + DAY));
      return {
        certificatePem: issued.certificatePem,
        privateKeyPem: issued.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    };
    manager.addStatic({ id: 'exact', ...(await pem(['www.example.org'])) });
    manager.addStatic({ id: 'wild', ...(await pem(['*.example.org'])) });
    manager.addStatic({ id: 'fallback', ...(await pem(['fallback.example.net'])), isDefault: true });
    await manager.start();
    const subjectFor = async (name: string | undefined, fallback = true) => {
      const context = await manager.secureContextFor(name, { fallback });
      if (!context) return undefined;
      const cert = (context.context as { getCertificate(): Buffer | null }).getCertificate();
      return cert ? new X509Certificate(cert).subjectAltName : undefined;
    };
    assert.equal(await subjectFor('www.example.org'), 'DNS:www.example.org');
    assert.equal(await subjectFor('MAIL.example.org.'), 'DNS:*.example.org');
    assert.equal(
      await subjectFor('a.b.example.org'),
      'DNS:fallback.example.net',
      'wildcards cover one label',
    );
    assert.equal(await subjectFor(undefined), 'DNS:fallback.example.net');
    assert.equal(await subjectFor('unknown.test', false), undefined);
    assert.equal(issuer.requests.length, 0);
    await manager.stop();
  });

  it('stores nothing and installs nothing when the first attempt fails', async () => {
    const { manager, issuer, storage, events } = setUp();
    issuer.failures = [new Error('no such name')];
    manager.add({ id: 'le', names: ['mail.example.org'], issuer, renewBeforeMs: 30 * DAY });
    await startAndObtain(manager);
    assert.equal(await manager.secureContextFor('mail.example.org'), undefined);
    assert.deepEqual(await storage.list('certificates', { recursive: true }), []);
    const failed = events.find((e) => e.name === 'renewal-failed')?.payload as { missing: boolean };
    assert.equal(failed.missing, true);
    await manager.stop();
  });
});
