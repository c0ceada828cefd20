// The TLS-ALPN-01 solver and its registry: what present() registers, what cleanup() removes, and that
// the registered SecureContext really serves the RFC 8737 certificate in a TLS handshake.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import type net from 'node:net';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { ACME_IDENTIFIER_OID } from '../../../src/crypto/challenge-cert.js';
import type { PendingChallenge } from '../../../src/solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../../../src/solvers/tls-alpn-01.js';

const signal = AbortSignal.timeout(10_000);

function challenge(domain: string, keyAuthorization = `token-${domain}.thumbprint`): PendingChallenge {
  return { type: 'tls-alpn-01', domain, wildcard: false, token: `token-${domain}`, keyAuthorization };
}

/** Serves `context` on loopback and returns the DER certificate a client sees. */
async function certificateServedBy(context: tls.SecureContext): Promise<X509Certificate> {
  const server = tls.createServer({
    SNICallback: (_name, done) => done(null, context),
    ALPNProtocols: ['acme-tls/1'],
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    return await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tls.connect(
        {
          host: '127.0.0.1',
          port,
          servername: 'a.example.test',
          ALPNProtocols: ['acme-tls/1'],
          rejectUnauthorized: false,
        },
        () => {
          const raw = socket.getPeerCertificate().raw;
          socket.destroy();
          resolve(new X509Certificate(raw));
        },
      );
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('the TLS-ALPN-01 solver', () => {
  it('has the type tls-alpn-01', () => {
    assert.equal(new TlsAlpn01Solver(new TlsAlpnChallenges()).type, 'tls-alpn-01');
  });

  it('registers, on present, a context that serves the challenge certificate for the name', async () => {
    const challenges = new TlsAlpnChallenges();
    const solver = new TlsAlpn01Solver(challenges);
    const ch = challenge('a.example.test');
    await solver.present(ch, signal);

    const context = challenges.get('a.example.test');
    assert.ok(context);
    const cert = await certificateServedBy(context);
    assert.equal(cert.subjectAltName, 'DNS:a.example.test');
    const digest = createHash('sha256').update(ch.keyAuthorization).digest('hex');
    const oid = '06082b0601050507011f';
    assert.ok(cert.raw.includes(Buffer.from(`${oid}0101ff04220420${digest}`, 'hex')), ACME_IDENTIFIER_OID);
  });

  it('looks names up case-insensitively and ignores a trailing dot', async () => {
    const challenges = new TlsAlpnChallenges();
    await new TlsAlpn01Solver(challenges).present(challenge('a.example.test'), signal);
    assert.ok(challenges.get('A.Example.TEST'));
    assert.ok(challenges.get('a.example.test.'));
  });

  it('keeps several names in flight at once and removes only the one cleaned up', async () => {
    const challenges = new TlsAlpnChallenges();
    const solver = new TlsAlpn01Solver(challenges);
    const a = challenge('a.example.test');
    const b = challenge('b.example.test');
    await Promise.all([solver.present(a, signal), solver.present(b, signal)]);
    assert.deepEqual(challenges.domains().sort(), ['a.example.test', 'b.example.test']);
    assert.notEqual(challenges.get('a.example.test'), challenges.get('b.example.test'));

    await solver.cleanup(a, signal);
    assert.equal(challenges.get('a.example.test'), undefined);
    assert.ok(challenges.get('b.example.test'));
    assert.equal(challenges.size, 1);
  });

  it('answers nothing for a name that was never presented', () => {
    assert.equal(new TlsAlpnChallenges().get('a.example.test'), undefined);
  });

  it('tolerates cleanup with nothing to remove, even when the signal has already fired', async () => {
    const solver = new TlsAlpn01Solver(new TlsAlpnChallenges());
    await solver.cleanup(challenge('never.example.test'), AbortSignal.abort());
  });

  it('does not let a late cleanup of an older challenge remove a newer one for the same name', async () => {
    const challenges = new TlsAlpnChallenges();
    const solver = new TlsAlpn01Solver(challenges);
    const older = challenge('a.example.test', 'old.thumb');
    const newer = challenge('a.example.test', 'new.thumb');
    await solver.present(older, signal);
    await solver.present(newer, signal);
    await solver.cleanup(older, signal);
    assert.ok(challenges.get('a.example.test'), 'the newer answer is still served');
    await solver.cleanup(newer, signal);
    assert.equal(challenges.get('a.example.test'), undefined);
  });

  it('refuses wildcard names and other challenge types, registering nothing', async () => {
    const challenges = new TlsAlpnChallenges();
    const solver = new TlsAlpn01Solver(challenges);
    await assert.rejects(solver.present({ ...challenge('example.test'), wildcard: true }, signal), TypeError);
    await assert.rejects(
      solver.present({ ...challenge('example.test'), type: 'http-01' }, signal),
      TypeError,
    );
    assert.equal(challenges.size, 0);
  });

  it('does not present when the signal has already fired', async () => {
    const challenges = new TlsAlpnChallenges();
    await assert.rejects(
      new TlsAlpn01Solver(challenges).present(challenge('a.example.test'), AbortSignal.abort()),
    );
    assert.equal(challenges.size, 0);
  });
});
