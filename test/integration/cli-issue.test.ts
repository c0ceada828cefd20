// The `tlsward issue` command end to end: the built binary (npm run build) against a real Pebble,
// answering TLS-ALPN-01 on Pebble's validation port.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pebbleIssueOptions, tlsward } from './support/cli.js';
import { startDns01Peers } from './support/dns-01.js';
import { type RunningPebble, startPebble } from './support/pebble.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-cli-'));
after(() => rm(scratch, { recursive: true, force: true }));

describe('tlsward issue', () => {
  let pebble: RunningPebble;
  before(async () => {
    pebble = await startPebble();
  });
  after(() => pebble.stop());

  const common = (cache: string) => pebbleIssueOptions(pebble, cache);

  it('issues a certificate and prints one JSON object naming the files', async () => {
    const cache = join(scratch, 'json');
    const run = await tlsward([
      'issue',
      ...common(cache),
      '--domain',
      'cli.example.test',
      '--domain',
      'www.cli.example.test',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(result.names, ['cli.example.test', 'www.cli.example.test']);
    assert.ok(!Number.isNaN(Date.parse(String(result.notAfter))));
    const leaf = new X509Certificate(await readFile(String(result.certificate)));
    assert.match(leaf.subjectAltName ?? '', /DNS:www\.cli\.example\.test/);
    assert.equal(new Date(leaf.validTo).toISOString(), new Date(String(result.notAfter)).toISOString());
    const fullchain = await readFile(String(result.fullchain), 'utf8');
    assert.equal(fullchain.match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf and intermediate');
    const key = await stat(String(result.privateKey));
    assert.equal(key.mode & 0o777, 0o600);
    assert.equal((await stat(dirname(String(result.privateKey)))).mode & 0o777, 0o700);
  });

  it('prints each step and where the files are on a terminal run', async () => {
    const run = await tlsward([
      'issue',
      ...common(join(scratch, 'text')),
      '--domain',
      'text.example.test',
      '--key-type',
      'rsa2048',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /account ready/);
    assert.match(run.stderr, /order created for text\.example\.test/);
    assert.match(run.stderr, /text\.example\.test: (tls-alpn-01 valid|already authorized)/);
    assert.match(run.stderr, /finalizing/);
    assert.match(run.stdout, /fullchain\s+\/.*fullchain\.pem/);
    assert.match(run.stdout, /expires\s+\d{4}-/);
  });

  it('proves names over HTTP-01 with --challenge http-01', async () => {
    const args = common(join(scratch, 'http'));
    args[args.indexOf('--port') + 1] = String(pebble.httpPort);
    const run = await tlsward(['issue', ...args, '--challenge', 'http-01', '--domain', 'http.example.test']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /http-01 responder listening on 127\.0\.0\.1:\d+/);
    assert.match(run.stderr, /http\.example\.test: (http-01 valid|already authorized)/);
  });

  it('proves a wildcard and its base name over DNS-01 with RFC 2136 updates to Knot', async () => {
    const peers = await startDns01Peers({ zones: ['example.test'] });
    const { knot, pebble: dnsPebble } = peers;
    try {
      const secretFile = join(scratch, 'tsig.secret');
      await writeFile(secretFile, `${knot.tsig.secret}\n`, { mode: 0o600 });
      const run = await tlsward([
        'issue',
        ...[
          '--directory',
          dnsPebble.directoryUrl,
          '--ca-file',
          dnsPebble.caFile,
          '--cache',
          join(scratch, 'dns'),
        ],
        ...['--challenge', 'dns-01', '--dns-server', knot.address, '--dns-resolver', knot.address],
        ...[
          '--dns-nameserver',
          knot.address,
          '--tsig-key',
          knot.tsig.name,
          '--tsig-algorithm',
          knot.tsig.algorithm,
        ],
        ...[
          '--tsig-secret-file',
          secretFile,
          '--domain',
          'example.test',
          '--domain',
          '*.example.test',
          '--json',
        ],
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout).names, ['example.test', '*.example.test']);
      assert.deepEqual(await knot.txt('_acme-challenge.example.test'), [], 'records removed afterwards');
      assert.ok(!run.stderr.includes(knot.tsig.secret), 'the secret is never printed');
    } finally {
      await peers.stop();
    }
  });

  it('exits 1 naming the domain and the CA detail when the challenge cannot succeed', async () => {
    // The responder listens on a port Pebble does not dial, so validation finds nothing there.
    const args = common(join(scratch, 'fail'));
    args[args.indexOf('--port') + 1] = String(pebble.httpPort);
    const run = await tlsward(['issue', ...args, '--domain', 'unreachable.example.test']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /unreachable\.example\.test: tls-alpn-01 validation failed: \w+: .+/);
  });

  it('exits 2 on bad usage without contacting the CA', async () => {
    const bad = await tlsward(['issue', ...common(join(scratch, 'usage')), '--domain', 'bad..name']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid domain name "bad\.\.name"/);
    const unknown = await tlsward([
      'issue',
      ...common(join(scratch, 'usage')),
      '--domain',
      'a.example.test',
      '--no-such-flag',
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option/);
    const wildcard = await tlsward([
      'issue',
      ...common(join(scratch, 'usage')),
      '--domain',
      '*.example.test',
    ]);
    assert.equal(wildcard.code, 2);
    assert.match(wildcard.stderr, /dns-01/);
  });
});
