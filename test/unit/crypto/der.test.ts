import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { objectIdentifier, sequence, time, tlv, unsignedInteger } from '../../../src/crypto/der.js';
import { generatePrivateKey, KEY_TYPES } from '../../../src/crypto/keys.js';
import { createSelfSignedCertificate } from '../../../src/crypto/self-signed.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tlsward-der-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the DER encoder', () => {
  it('encodes object identifiers, including arcs above 127', () => {
    assert.equal(hex(objectIdentifier('1.3.6.1.5.5.7.1.31')), '06082b0601050507011f');
    assert.equal(hex(objectIdentifier('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  });

  it('keeps integers positive and minimal', () => {
    assert.equal(hex(unsignedInteger(Uint8Array.of(0x80))), '02020080');
    assert.equal(hex(unsignedInteger(Uint8Array.of(0, 0, 0x7f))), '02017f');
  });

  it('uses the long length form past 127 bytes', () => {
    assert.equal(hex(tlv(0x04, new Uint8Array(200))).slice(0, 6), '0481c8');
    assert.equal(hex(sequence(new Uint8Array(300))).slice(0, 8), '3082012c');
  });

  it('writes UTCTime before 2050 and GeneralizedTime from 2050', () => {
    assert.equal(
      Buffer.from(time(new Date('2026-12-04T10:20:30Z')))
        .toString('latin1')
        .slice(2),
      '261204102030Z',
    );
    assert.equal(
      Buffer.from(time(new Date('2051-01-01T00:00:00Z')))
        .toString('latin1')
        .slice(2),
      '20510101000000Z',
    );
  });
});

describe('self-signed certificates', () => {
  for (const type of KEY_TYPES.filter((t) => t !== 'rsa4096')) {
    it(`with a ${type} key verify with openssl and carry the names and dates asked for`, async () => {
      const key = generatePrivateKey(type);
      const pem = await createSelfSignedCertificate({
        key,
        commonName: 'test',
        names: ['a.example.test', '*.b.example.test'],
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2060-01-01T00:00:00Z'),
      });
      const cert = new X509Certificate(pem);
      assert.ok(cert.verify(cert.publicKey) && cert.checkPrivateKey(key));
      assert.equal(cert.subjectAltName, 'DNS:a.example.test, DNS:*.b.example.test');
      assert.equal(new Date(cert.validTo).toISOString(), '2060-01-01T00:00:00.000Z');
      const file = join(dir, `${type}.pem`);
      writeFileSync(file, pem);
      const out = execFileSync('openssl', ['verify', '-CAfile', file, '-no_check_time', file], {
        encoding: 'utf8',
      });
      assert.match(out, /OK/);
    });
  }
});
