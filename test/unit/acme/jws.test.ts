import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import * as jose from 'jose';
import {
  jwkThumbprint,
  keyAuthorization,
  publicJwk,
  signExternalAccountBinding,
  signJws,
} from '../../../src/acme/jws.js';
import { generatePrivateKey, publicKeyOf } from '../../../src/crypto/keys.js';

describe('JWS for ACME', () => {
  for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
    it(`a ${type} account key's signature verifies with jose, an independent implementation`, async () => {
      const key = generatePrivateKey(type);
      const jws = signJws(
        key,
        { kid: 'https://ca.test/acct/1', url: 'https://ca.test/new-order', nonce: 'n0nce' },
        {
          identifiers: [{ type: 'dns', value: 'a.example.test' }],
        },
      );
      const verified = await jose.flattenedVerify(jws, publicKeyOf(key));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(verified.payload)), {
        identifiers: [{ type: 'dns', value: 'a.example.test' }],
      });
      assert.equal(verified.protectedHeader!.kid, 'https://ca.test/acct/1');
      assert.equal(verified.protectedHeader!.nonce, 'n0nce');
      assert.equal(verified.protectedHeader!.url, 'https://ca.test/new-order');
      assert.equal(verified.protectedHeader!.alg, { ec256: 'ES256', ec384: 'ES384', rsa2048: 'RS256' }[type]);
    });
  }

  it('a POST-as-GET carries an empty payload, not an encoded empty string', async () => {
    const key = generatePrivateKey();
    const jws = signJws(key, { kid: 'k', url: 'https://ca.test/x', nonce: 'n' }, undefined);
    assert.equal(jws.payload, '');
    await jose.flattenedVerify(jws, publicKeyOf(key));
  });

  it('a new-account JWS embeds the public JWK, which verifies its own signature', async () => {
    const key = generatePrivateKey();
    const jwk = publicJwk(key);
    const jws = signJws(
      key,
      { jwk, url: 'https://ca.test/new-acct', nonce: 'n' },
      { termsOfServiceAgreed: true },
    );
    const verified = await jose.flattenedVerify(jws, jose.EmbeddedJWK);
    assert.deepEqual(verified.protectedHeader!.jwk, jwk);
    assert.equal(jwk.d, undefined, 'the private part must never be sent');
  });

  it('computes the RFC 7638 section 3.1 thumbprint test vector', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('the thumbprint of an EC key agrees with jose', async () => {
    const jwk = publicJwk(generatePrivateKey());
    assert.equal(jwkThumbprint(jwk), await jose.calculateJwkThumbprint(jwk as jose.JWK, 'sha256'));
  });

  it('a key authorization is the token, a dot and the account key thumbprint', () => {
    const jwk = publicJwk(generatePrivateKey());
    assert.equal(keyAuthorization('tok-en_1', jwk), `tok-en_1.${jwkThumbprint(jwk)}`);
  });

  it('an external account binding is an HS256 JWS over the account JWK, verifiable with the MAC key', async () => {
    const macKey = Buffer.from('a shared secret of thirty-two bytes!').toString('base64url');
    const jwk = publicJwk(generatePrivateKey());
    const eab = signExternalAccountBinding(
      { kid: 'kid-1', hmacKey: macKey },
      jwk,
      'https://ca.test/new-acct',
    );
    const verified = await jose.flattenedVerify(eab, Buffer.from(macKey, 'base64url'));
    assert.deepEqual(verified.protectedHeader, {
      alg: 'HS256',
      kid: 'kid-1',
      url: 'https://ca.test/new-acct',
    });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(verified.payload)), jwk);
  });

  it('an HMAC key given in padded standard base64 means the same key', () => {
    const raw = Buffer.from([0xfb, 0xff, 0xfe, 0x01, 0x02]);
    const jwk = publicJwk(generatePrivateKey());
    const a = signExternalAccountBinding({ kid: 'k', hmacKey: raw.toString('base64url') }, jwk, 'u');
    const b = signExternalAccountBinding({ kid: 'k', hmacKey: raw.toString('base64') }, jwk, 'u');
    assert.equal(a.signature, b.signature);
  });

  it('public JWKs hold only the members RFC 7638 requires', () => {
    const key = generatePrivateKey('ec256');
    assert.deepEqual(Object.keys(publicJwk(key)), ['crv', 'kty', 'x', 'y']);
    assert.deepEqual(Object.keys(publicJwk(createPublicKey(key))), ['crv', 'kty', 'x', 'y']);
  });
});
