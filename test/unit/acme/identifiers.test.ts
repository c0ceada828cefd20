import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeDomain, normalizeDomains, parseDomain } from '../../../src/acme/identifiers.js';
import { InvalidIdentifierError } from '../../../src/errors.js';

describe('domain names for orders', () => {
  it('trims, lowercases and drops a trailing dot', () => {
    assert.equal(normalizeDomain('  Mail.Example.ORG. '), 'mail.example.org');
  });

  it('IDNA-encodes internationalized names', () => {
    assert.equal(normalizeDomain('bücher.example'), 'xn--bcher-kva.example');
  });

  it('keeps a leading wildcard label and reports it', () => {
    assert.equal(normalizeDomain('*.Example.org'), '*.example.org');
    assert.deepEqual(parseDomain('*.example.org'), { ascii: 'example.org', wildcard: true });
  });

  for (const bad of [
    '',
    '   ',
    'a..b',
    '-a.example',
    'a-.example',
    'a_b.example',
    'foo.*.example',
    'a b.example',
    `${'a'.repeat(64)}.example`,
    '192.0.2.1',
    '::1',
  ]) {
    it(`rejects ${JSON.stringify(bad)} with an error naming it`, () => {
      assert.throws(
        () => normalizeDomain(bad),
        (error: unknown) =>
          error instanceof InvalidIdentifierError && error.message.includes(JSON.stringify(bad)),
      );
    });
  }

  it('rejects a name longer than 253 characters', () => {
    const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
    assert.throws(() => normalizeDomain(long), InvalidIdentifierError);
  });

  it('drops duplicates but keeps the first name first', () => {
    assert.deepEqual(normalizeDomains(['B.example', 'a.example', 'b.example.']), ['b.example', 'a.example']);
  });

  it('refuses an empty list', () => {
    assert.throws(() => normalizeDomains([]), TypeError);
  });
});
