import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCsr, csrToPem } from '../../../src/crypto/csr.js';
import { generatePrivateKey } from '../../../src/crypto/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tlsward-csr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function opensslReadCsr(der: Uint8Array): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, csrToPem(der));
  return execFileSync('openssl', ['req', '-in', file, '-verify', '-noout', '-text'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('certificate signing requests', () => {
  for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
    it(`a ${type} CSR passes openssl req -verify and lists every name as a DNS SAN`, async () => {
      const der = await createCsr(generatePrivateKey(type), [
        'a.example.test',
        'b.example.test',
        '*.w.example.test',
      ]);
      const text = opensslReadCsr(der);
      assert.match(text, /Subject: CN\s*=\s*a\.example\.test/);
      assert.match(text, /DNS:a\.example\.test, DNS:b\.example\.test, DNS:\*\.w\.example\.test/);
    });
  }

  it('leaves the CN out when the first name is too long for it, keeping it in the SAN', async () => {
    const long = `${'a'.repeat(60)}.example.test`;
    const text = opensslReadCsr(await createCsr(generatePrivateKey(), [long]));
    assert.doesNotMatch(text, /CN\s*=/);
    assert.ok(text.includes(`DNS:${long}`));
  });

  it('refuses to make a CSR without names', async () => {
    await assert.rejects(createCsr(generatePrivateKey(), []), TypeError);
  });
});
