// The RFC 8737 challenge certificate, checked by two independent parsers: Node's X509Certificate and the
// openssl CLI, plus a byte-level look at the DER so the extension encoding is pinned exactly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { ACME_IDENTIFIER_OID, createChallengeCertificate } from '../../../src/crypto/challenge-cert.js';

const KEY_AUTH = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';
const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

function openssl(args: string[], input: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8' });
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

const { certPem, keyPem } = await createChallengeCertificate('a.example.test', KEY_AUTH);
const cert = new X509Certificate(certPem);

describe('the TLS-ALPN-01 challenge certificate', () => {
  it('names exactly the domain being proven, as its only subjectAltName', () => {
    assert.equal(cert.subjectAltName, 'DNS:a.example.test');
  });

  it('is self-signed with the fresh P-256 key it is returned with', () => {
    assert.ok(cert.verify(cert.publicKey));
    assert.ok(cert.checkIssued(cert));
    const key = createPrivateKey(keyPem);
    assert.ok(cert.checkPrivateKey(key));
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  it('carries a critical acmeIdentifier extension whose value is 04 20 and SHA-256 of the key authorization', () => {
    // Extension ::= SEQUENCE { OID 1.3.6.1.5.5.7.1.31, BOOLEAN TRUE, OCTET STRING { OCTET STRING (32) } }
    const oid = '06082b0601050507011f';
    const expected = Buffer.from(`${oid}0101ff04220420${sha256Hex(KEY_AUTH)}`, 'hex');
    assert.ok(derOf(certPem).includes(expected), 'DER contains the exact extension encoding');
  });

  it('reads the same way in the openssl CLI: critical extension, one DNS name, the digest bytes', () => {
    const text = openssl(['x509', '-text', '-noout'], certPem);
    assert.match(text, new RegExp(`${ACME_IDENTIFIER_OID.replaceAll('.', '\\.')}: critical`));
    assert.match(text, /X509v3 Subject Alternative Name:\s*\n\s*DNS:a\.example\.test\s*\n/);
    assert.equal(text.match(/DNS:/g)?.length, 1);

    const dump = openssl(['asn1parse'], certPem).split('\n');
    const at = dump.findIndex((line) => line.includes(`:${ACME_IDENTIFIER_OID}`));
    assert.ok(at >= 0, 'openssl asn1parse finds the acmeIdentifier OID');
    assert.match(dump[at + 1] ?? '', /BOOLEAN\s+:255/);
    assert.match(
      dump[at + 2] ?? '',
      new RegExp(`OCTET STRING\\s+\\[HEX DUMP\\]:0420${sha256Hex(KEY_AUTH)}$`, 'i'),
    );
  });

  it('is valid from a day before now until a week after, to tolerate a validator with a slow clock', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const short = new X509Certificate(
      (await createChallengeCertificate('a.example.test', KEY_AUTH, { now })).certPem,
    );
    assert.equal(new Date(short.validFrom).toISOString(), '2030-05-31T12:00:00.000Z');
    assert.equal(new Date(short.validTo).toISOString(), '2030-06-08T12:00:00.000Z');
  });

  it('gets a new random positive serial and a new key every time', async () => {
    const other = await createChallengeCertificate('a.example.test', KEY_AUTH);
    const otherCert = new X509Certificate(other.certPem);
    assert.notEqual(otherCert.serialNumber, cert.serialNumber);
    assert.notEqual(other.keyPem, keyPem);
    assert.ok(Number.parseInt(cert.serialNumber.slice(0, 2), 16) < 0x80);
  });

  it('refuses names that are not ASCII DNS names, and an empty key authorization', async () => {
    await assert.rejects(createChallengeCertificate('bücher.example', KEY_AUTH), TypeError);
    await assert.rejects(createChallengeCertificate('a b.example', KEY_AUTH), TypeError);
    await assert.rejects(createChallengeCertificate('', KEY_AUTH), TypeError);
    await assert.rejects(createChallengeCertificate('a.example.test.', KEY_AUTH), TypeError);
    await assert.rejects(createChallengeCertificate('a..example.test', KEY_AUTH), TypeError);
    await assert.rejects(createChallengeCertificate('a.example.test', ''), TypeError);
  });
});
