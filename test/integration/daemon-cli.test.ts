// The configuration commands of the built `tlsward` binary (npm run build) around the daemon: `check` finds
// every problem, `serve` refuses a file with errors, `status` reads what the daemon obtained from the cache,
// and `renew` renews in its own process against a real Pebble once the daemon has stopped.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tlsward } from './support/cli.js';
import { acmeProvider, proxyListener } from './support/configs.js';
import { installed, startDaemon } from './support/daemon.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { selfSignedCertificate } from './support/test-ca.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-daemon-cli-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** The 1-based line of `text` that starts with `start` (after indentation). */
function lineOf(text: string, start: string): number {
  const index = text.split('\n').findIndex((line) => line.trimStart().startsWith(start));
  assert.ok(index >= 0, `no line starts with ${start}`);
  return index + 1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `FILE:LINE[:COLUMN]: KEY:` at the start of a line of `output`. */
function problemAt(output: string, file: string, line: number, key: string): string | undefined {
  const pattern = new RegExp(`^${escapeRegExp(file)}:${line}(?::\\d+)?: ${escapeRegExp(key)}: `);
  return output.split('\n').find((entry) => pattern.test(entry));
}

/** Three different errors, each on its own line: a port out of range, a bad duration, an unknown provider. */
const BROKEN = `[server]
hostname = "mail.example.test"

[acme."le"]
directory = "https://127.0.0.1:14000/dir"
port = 70000
renew-before = "soon"

[server.tls]
acme = "missing"
`;

async function writeBroken(name: string): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, BROKEN);
  return file;
}

function expectAllThree(output: string, file: string): void {
  const expected = [
    { line: lineOf(BROKEN, 'port ='), key: 'acme.le.port', about: /65535/ },
    { line: lineOf(BROKEN, 'renew-before ='), key: 'acme.le.renew-before', about: /duration/ },
    {
      line: lineOf(BROKEN, 'acme = "missing"'),
      key: 'server.tls.acme',
      about: /unknown ACME provider "missing"/,
    },
  ];
  for (const { line, key, about } of expected) {
    const found = problemAt(output, file, line, key);
    assert.ok(found, `no ${file}:${line}: ${key}: in:\n${output}`);
    assert.match(found, about);
  }
}

describe('tlsward check', () => {
  it('exits 0 and prints "configuration OK" for a good file', async () => {
    const file = join(scratch, 'good.toml');
    await writeFile(
      file,
      `[server]
hostname = "mail.example.test"

[acme."le"]
directory = "https://127.0.0.1:14000/dir"
port = 8443
${proxyListener('https', 8444, 8080)}`,
    );
    const run = await tlsward(['check', '--config', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /configuration OK/);
    assert.equal(run.stderr, '');
  });

  it('exits 2 and prints all three errors of a file, each with FILE:LINE and key', async () => {
    const file = await writeBroken('broken-check.toml');
    const run = await tlsward(['check', '--config', file]);
    assert.equal(run.code, 2);
    expectAllThree(run.stderr, file);
    assert.match(run.stderr, /3 errors/);
    assert.doesNotMatch(run.stdout, /configuration OK/);
  });
});

describe('tlsward serve', () => {
  it('exits 2 on a file with errors, printing every error and starting nothing', async () => {
    const file = await writeBroken('broken-serve.toml');
    const run = await tlsward(['serve', '--config', file, '--log-format', 'json']);
    assert.equal(run.code, 2);
    expectAllThree(run.stderr, file);
    assert.doesNotMatch(run.stderr, /tlsward is running/);
  });
});

describe('tlsward status and renew after the daemon ran', () => {
  let pebble: RunningPebble;
  let configFile: string;
  let cache: string;
  /** The certificate the daemon obtained before it stopped. */
  let served: X509Certificate;

  /** Serial numbers (upper-case hex) of every certificate the cache holds. */
  async function cachedSerials(): Promise<string[]> {
    const files = await readdir(cache, { recursive: true, encoding: 'utf8' });
    const metadata = files.filter((file) => file.endsWith('metadata.json'));
    const serials = await Promise.all(
      metadata.map(async (file) => {
        const json = JSON.parse(await readFile(join(cache, file), 'utf8')) as { serialNumber: string };
        return json.serialNumber.toUpperCase();
      }),
    );
    return serials;
  }

  before(async () => {
    pebble = await startPebble();
    cache = join(scratch, 'status-cache');
    const legacy = await selfSignedCertificate(join(scratch, 'status-static'), {
      names: ['legacy.example.test'],
    });
    const text = `${acmeProvider('site', pebble, cache, ['status.example.test', 'www.status.example.test'])}
[certificate."legacy"]
cert = "%{file:${legacy.cert}}%"
private-key = "%{file:${legacy.key}}%"
`;
    configFile = join(scratch, 'status.toml');
    await writeFile(configFile, text);
    // No listener: the daemon answers TLS-ALPN-01 on Pebble's port only while the order is pending.
    const daemon = await startDaemon(text);
    try {
      await daemon.waitForLog(installed('site'));
      const files = await readdir(cache, { recursive: true, encoding: 'utf8' });
      const certFile = files.find((file) => file.endsWith('/cert.pem'));
      assert.ok(certFile, `no cert.pem in ${cache}: ${files.join(', ')}`);
      const cert = await readFile(join(cache, certFile));
      served = new X509Certificate(cert);
    } finally {
      assert.equal(await daemon.stop(), 0);
    }
  });
  after(() => pebble?.stop());

  it('status --json lists the certificate with its names, issuer, expiry and days left', async () => {
    const run = await tlsward(['status', '--config', configFile, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    const site = rows.find((row) => row.id === 'site');
    assert.ok(site, run.stdout);
    assert.equal(site.kind, 'acme');
    assert.deepEqual(site.names, ['status.example.test', 'www.status.example.test']);
    assert.match(String(site.issuer), /Pebble Intermediate/);
    assert.equal(site.issuer, served.issuer.match(/CN=(.*)/)?.[1]);
    assert.equal(site.notAfter, new Date(served.validTo).toISOString());
    const days = Math.floor((new Date(served.validTo).getTime() - Date.now()) / 86_400_000);
    assert.ok(Math.abs(Number(site.daysLeft) - days) <= 1, `daysLeft ${site.daysLeft}, expected ~${days}`);
    assert.equal(site.lastError, null);
    const legacy = rows.find((row) => row.id === 'legacy');
    assert.equal(legacy?.kind, 'static');
    assert.deepEqual(legacy?.names, ['legacy.example.test']);
  });

  it('status --json shows the next attempt the daemon planned: the renewal, not the first issuance', async () => {
    const run = await tlsward(['status', '--config', configFile, '--json']);
    const site = (JSON.parse(run.stdout) as Record<string, unknown>[]).find((row) => row.id === 'site');
    const next = Date.parse(String(site?.nextAttempt));
    assert.ok(
      next > Date.now() && next < new Date(served.validTo).getTime(),
      `nextAttempt ${site?.nextAttempt} should be in the future, before notAfter ${served.validTo}`,
    );
  });

  it('status without --json prints a table with a header and one row per certificate', async () => {
    const run = await tlsward(['status', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    const [header, ...rows] = run.stdout.trimEnd().split('\n');
    assert.match(String(header), /^ID\s+NAMES\s+ISSUER\s+EXPIRES\s+DAYS\s+NEXT ATTEMPT\s+LAST ERROR$/);
    assert.equal(rows.length, 2);
    assert.match(
      String(rows[0]),
      /^site\s+status\.example\.test,www\.status\.example\.test\s+Pebble Intermediate/,
    );
    assert.match(String(rows[1]), /^legacy \(static\)\s+legacy\.example\.test/);
  });

  it('renew without --force says "not due yet" for a fresh certificate and exits 0', async () => {
    const run = await tlsward(['renew', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /site: not due yet/);
    assert.deepEqual(await cachedSerials(), [served.serialNumber.toUpperCase()], 'nothing new in the cache');
  });

  it('renew --force renews now with the daemon stopped, putting a new serial in the cache', async () => {
    const run = await tlsward(['renew', '--config', configFile, '--force']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /site: renewed status\.example\.test, www\.status\.example\.test, valid until /);
    const serials = await cachedSerials();
    assert.equal(serials.length, 1);
    assert.notEqual(serials[0], served.serialNumber.toUpperCase(), 'a new certificate replaced the old one');
    const status = await tlsward(['status', '--config', configFile, '--json']);
    const site = (JSON.parse(status.stdout) as Record<string, unknown>[]).find((row) => row.id === 'site');
    assert.match(String(site?.issuer), /Pebble Intermediate/);
  });
});
