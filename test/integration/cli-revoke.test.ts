// `tlsward revoke` against a real Pebble: the certificate issued into a cache is revoked at the CA (its
// management API reports it), by the account, or by the certificate's key after Pebble forgot the account.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pebbleIssueOptions, tlsward } from './support/cli.js';
import { type RunningPebble, startPebble } from './support/pebble.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-revoke-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Pebble's view of a certificate, from its management API. */
async function statusAtPebble(pebble: RunningPebble, certificateFile: string): Promise<string> {
  const serial = new X509Certificate(await readFile(certificateFile)).serialNumber.toLowerCase();
  return JSON.parse(await pebble.management(`/cert-status-by-serial/${serial}`)).Status;
}

describe('tlsward revoke', () => {
  let pebble: RunningPebble;
  before(async () => {
    pebble = await startPebble();
  });
  after(() => pebble.stop());

  const revokeArgs = (cache: string, name: string) => [
    'revoke',
    ...['--directory', pebble.directoryUrl, '--ca-file', pebble.caFile, '--cache', cache],
    ...['--contact', 'admin@example.test', '--domain', name],
  ];

  it('revokes the stored certificate with the account key, and the CA reports it revoked', async () => {
    const cache = join(scratch, 'account');
    const issued = await tlsward([
      'issue',
      ...pebbleIssueOptions(pebble, cache),
      '--domain',
      'revoke.example.test',
      '--json',
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const certificate = JSON.parse(issued.stdout).certificate as string;
    assert.equal(await statusAtPebble(pebble, certificate), 'Valid');
    const run = await tlsward([...revokeArgs(cache, 'revoke.example.test'), '--reason', 'keyCompromise']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Revoked certificate [0-9A-F]+ for revoke\.example\.test \(keyCompromise\)/);
    assert.equal(await statusAtPebble(pebble, certificate), 'Revoked');
    const again = await tlsward(revokeArgs(cache, 'revoke.example.test'));
    assert.equal(again.code, 1, 'a second revocation is refused by the CA');
    assert.match(again.stderr, /alreadyRevoked/);
  });

  it("revokes with the certificate's own key when the CA does not know the stored account", async () => {
    const cache = join(scratch, 'forgotten');
    const issued = await tlsward([
      'issue',
      ...pebbleIssueOptions(pebble, cache),
      '--domain',
      'orphan.example.test',
      '--json',
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const certificate = JSON.parse(issued.stdout).certificate as string;
    // Point the stored registration at an account URL the CA never issued (as after a CA-side cleanup).
    const [registration] = (
      await readdir(join(cache, 'accounts'), { recursive: true, encoding: 'utf8' })
    ).filter((file) => file.endsWith('account.json'));
    assert.ok(registration);
    const file = join(cache, 'accounts', registration);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(
      file,
      JSON.stringify({ ...stored, url: stored.url.replace(/[^/]+$/, 'no-such-account') }),
    );
    const run = await tlsward(revokeArgs(cache, 'orphan.example.test'));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await statusAtPebble(pebble, certificate), 'Revoked');
  });

  it('exits 2 without contacting the CA when nothing is stored for the names or the reason is unknown', async () => {
    const missing = await tlsward(revokeArgs(join(scratch, 'empty'), 'nothing.example.test'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no certificate for nothing\.example\.test/);
    const badReason = await tlsward([
      ...revokeArgs(join(scratch, 'empty'), 'nothing.example.test'),
      '--reason',
      'bored',
    ]);
    assert.equal(badReason.code, 2);
    assert.match(badReason.stderr, /invalid/);
  });
});
