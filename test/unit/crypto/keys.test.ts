import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  generatePrivateKey,
  KEY_TYPES,
  keyTypeOf,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyOf,
  signX509,
  x509SignatureAlgorithm,
} from '../../../src/crypto/keys.js';

describe('private keys', () => {
  for (const type of KEY_TYPES) {
    it(`a generated ${type} key reports its own type and survives a PEM round trip`, () => {
      const key = generatePrivateKey(type);
      assert.equal(keyTypeOf(key), type);
      const again = privateKeyFromPem(privateKeyToPem(key));
      assert.equal(keyTypeOf(again), type);
      assert.ok(privateKeyToPem(key).startsWith('-----BEGIN PRIVATE KEY-----'));
    });
  }

  it('signs X.509 data with the hash that matches the curve', () => {
    const key = generatePrivateKey('ec384');
    assert.equal(x509SignatureAlgorithm(key).hash, 'sha384');
    const data = Buffer.from('to be signed');
    assert.ok(verify('sha384', data, publicKeyOf(key), signX509(data, key)));
  });

  it('publicKeyOf accepts a key that is already public', () => {
    const pub = publicKeyOf(generatePrivateKey());
    assert.equal(publicKeyOf(pub), pub);
  });
});
