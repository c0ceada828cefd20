// The key builder: names made safe, ids stable and distinct, and the key layout other layers rely on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  accountKeys,
  accountLockName,
  accountNameFor,
  assertKey,
  certificateKeys,
  certificateName,
  isPrivateKeyPath,
  isSafeName,
  issueLockName,
  issuerIdFromDirectoryUrl,
  safeName,
} from '../../../src/storage/keys.js';

describe('safeName', () => {
  it('lowercases and spells out the wildcard', () => {
    assert.equal(safeName('Example.ORG'), 'example.org');
    assert.equal(safeName('*.example.org'), '_wildcard.example.org');
    assert.equal(safeName('mail-1.example_x.org'), 'mail-1.example_x.org');
    assert.equal(safeName(safeName('*.Example.org')), '_wildcard.example.org', 'idempotent');
  });

  it('refuses, rather than maps, anything that could leave a folder or merge two names', () => {
    const bad = ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\0b', 'a b', 'a:b', 'ä.example', '.hidden', '-rf'];
    // U+212A KELVIN SIGN lowercases to an ASCII 'k': it must not sneak in as 'k'.
    bad.push('\u212Aey.example');
    for (const name of bad) assert.throws(() => safeName(name), TypeError, JSON.stringify(name));
    assert.throws(() => safeName('a'.repeat(256)), TypeError);
    assert.equal(safeName('a'.repeat(255)).length, 255);
  });
});

describe('issuerIdFromDirectoryUrl', () => {
  it('gives readable ids for the usual directories', () => {
    assert.equal(
      issuerIdFromDirectoryUrl('https://acme-v02.api.letsencrypt.org/directory'),
      'acme-v02.api.letsencrypt.org-directory',
    );
    assert.equal(issuerIdFromDirectoryUrl('https://127.0.0.1:14000/dir'), '127.0.0.1_14000-dir');
    assert.equal(issuerIdFromDirectoryUrl('https://ca.example/acme/dir'), 'ca.example-acme-dir');
    assert.equal(
      issuerIdFromDirectoryUrl('https://ca.example:443/dir#x'),
      'ca.example-dir',
      'default port, fragment',
    );
  });

  it('is safe, stable and distinct for distinct host, port, path, scheme and query', () => {
    const urls = [
      'https://acme-v02.api.letsencrypt.org/directory',
      'https://acme-staging-v02.api.letsencrypt.org/directory',
      'https://127.0.0.1:14000/dir',
      'https://127.0.0.1:15000/dir',
      'https://127.0.0.1/14000-dir',
      'https://127.0.0.1/14000/dir',
      'https://127.0.0.1:14000/',
      'https://127.0.0.1/14000',
      'http://127.0.0.1:14000/dir',
      'https://a.b/c',
      'https://a.b-c',
      'https://a.b/c/',
      'https://a.b/c?x=1',
      'https://a.b/C',
      'https://acme.zerossl.com/v2/DV90',
      'https://acme.ssl.com/sslcom-dv-rsa',
      'https://acme.ssl.com/sslcom/dv/rsa',
      'https://[::1]:14000/dir',
      'https://xn--mnchen-3ya.example/dir',
      'https://user:pw@a.b/c',
      `https://a.b/${'x'.repeat(300)}`,
    ];
    const ids = urls.map(issuerIdFromDirectoryUrl);
    for (const [i, id] of ids.entries()) {
      assert.ok(isSafeName(id), `${urls[i]} -> ${id}`);
      assert.equal(issuerIdFromDirectoryUrl(urls[i]!), id, 'stable');
    }
    assert.equal(new Set(ids).size, urls.length, ids.join('\n'));
  });

  it('refuses what is not a URL', () => {
    assert.throws(() => issuerIdFromDirectoryUrl('not a url'), TypeError);
  });
});

describe('accounts', () => {
  it('names the account after the first contact', () => {
    assert.equal(
      accountNameFor(['mailto:Admin@Example.org', 'mailto:b@example.org']),
      'admin_at_example.org',
    );
    assert.equal(accountNameFor(['postmaster@example.org']), 'postmaster_at_example.org');
    assert.equal(accountNameFor([]), 'default');
    assert.equal(accountNameFor(['  ']), 'default');
  });

  it('gives odd contacts a safe and distinct name', () => {
    const contacts = [
      'a+tag@example.org',
      'a-tag@example.org',
      'tel:+1555',
      'x_at_deadbeef00@y.z',
      '../../etc',
    ];
    const names = contacts.map((c) => accountNameFor([c]));
    for (const name of names) assert.ok(isSafeName(name), name);
    assert.equal(new Set(names).size, contacts.length);
    assert.notEqual(accountNameFor(['a@b_at_c.d']), accountNameFor(['a_at_b@c.d']));
  });

  it('lays out the account keys', () => {
    const keys = accountKeys('127.0.0.1_14000-dir', 'admin_at_example.org');
    assert.deepEqual(keys, {
      folder: 'accounts/127.0.0.1_14000-dir/admin_at_example.org',
      privateKey: 'accounts/127.0.0.1_14000-dir/admin_at_example.org/key.pem',
      registration: 'accounts/127.0.0.1_14000-dir/admin_at_example.org/account.json',
    });
    assert.equal(accountLockName('127.0.0.1_14000-dir', 'default'), 'account/127.0.0.1_14000-dir/default');
    assert.throws(() => accountLockName('a/b', 'default'), TypeError);
    assert.throws(() => accountKeys('../x', 'default'), TypeError);
    assert.throws(() => accountKeys('issuer', 'a/b'), TypeError);
    assert.ok(isPrivateKeyPath(keys.privateKey));
    assert.ok(!isPrivateKeyPath(keys.registration));
  });
});

describe('certificates', () => {
  it('names a one-name certificate after that name', () => {
    assert.equal(certificateName(['Example.org']), 'example.org');
    assert.equal(certificateName(['*.example.org']), '_wildcard.example.org');
    assert.equal(certificateName(['example.org', 'EXAMPLE.org']), 'example.org', 'one name after dedup');
  });

  it('names a set after its first name plus a digest of the whole set', () => {
    const name = certificateName(['mail.example.org', 'a.example.org', 'b.example.org']);
    assert.match(name, /^mail\.example\.org_[0-9a-f]{12}$/);
    assert.equal(
      certificateName(['mail.example.org', 'b.example.org', 'a.example.org']),
      name,
      'order after the first',
    );
    assert.notEqual(certificateName(['mail.example.org', 'a.example.org']), name, 'another set');
    assert.notEqual(
      certificateName(['a.example.org', 'mail.example.org', 'b.example.org']),
      name,
      'another first',
    );
    assert.notEqual(certificateName(['mail.example.org']), name);
  });

  it('handles IP addresses and very long names, and refuses bad input', () => {
    assert.equal(certificateName(['192.0.2.1']), '192.0.2.1');
    assert.equal(certificateName(['2001:DB8::1']), '_ipv6_2001-db8--1');
    const long = `*.${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(59)}`; // 253
    for (const names of [[long], [long, 'x.example'], [long.replace('*', 'x')]]) {
      const name = certificateName(names);
      assert.ok(isSafeName(name) && name.length <= 255, name);
    }
    assert.notEqual(certificateName([long]), certificateName([long.replace('aaa', 'aae')]));
    assert.throws(() => certificateName([]), TypeError);
    assert.throws(() => certificateName(['ok.example', '../evil']), TypeError);
    assert.throws(() => certificateName(['fe80::1%eth0']), TypeError);
  });

  it('lays out the certificate keys and the issue lock', () => {
    const keys = certificateKeys('acme-v02.api.letsencrypt.org-directory', '_wildcard.example.org');
    const folder = 'certificates/acme-v02.api.letsencrypt.org-directory/_wildcard.example.org';
    assert.deepEqual(keys, {
      folder,
      certificate: `${folder}/cert.pem`,
      chain: `${folder}/chain.pem`,
      fullchain: `${folder}/fullchain.pem`,
      privateKey: `${folder}/privkey.pem`,
      metadata: `${folder}/metadata.json`,
    });
    for (const key of Object.values(keys)) assertKey(key);
    assert.ok(isPrivateKeyPath(keys.privateKey));
    assert.ok(!isPrivateKeyPath(keys.fullchain));
    assert.equal(issueLockName('_wildcard.example.org'), 'issue/_wildcard.example.org');
    assert.throws(() => issueLockName('*.example.org'), TypeError, 'takes the safe name, not the raw one');
    assert.throws(() => certificateKeys('issuer', '..'), TypeError);
  });
});
