// The `cloudflare` and `exec` DNS providers end to end. Cloudflare runs against a local stand-in of its
// REST API v4 (support/cloudflare-standin.ts, written from the documented request and response shapes,
// not Cloudflare itself): records added and removed over HTTP, a bad token, an unknown zone, rate
// limiting and a proxy's error page, and the DNS-01 solver on top. Exec runs real hook programs that
// change a real Knot server with RFC 2136 (a node script using our RFC 2136 code, and a bash script
// calling knsupdate when knot-dnsutils is installed), and certificates are issued by Pebble through them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { CloudflareError, CloudflareProvider } from '../../src/solvers/dns/cloudflare.js';
import { ExecProvider, ExecProviderError, type ExecProviderOptions } from '../../src/solvers/dns/exec.js';
import type { DnsProvider } from '../../src/solvers/dns/provider.js';
import { Dns01Solver, dns01RecordValue } from '../../src/solvers/dns-01.js';
import type { PendingChallenge } from '../../src/solvers/solver.js';
import { type CloudflareStandIn, startCloudflareStandIn } from './support/cloudflare-standin.js';
import { type Dns01Peers, recording, startDns01Peers } from './support/dns-01.js';
import type { RunningKnot } from './support/knot.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scratch = await mkdtemp(join(tmpdir(), 'tlsward-dns-providers-'));
after(() => rm(scratch, { recursive: true, force: true }));

const signal = () => AbortSignal.timeout(60_000);

async function rejection<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof type, `expected a ${type.name}, got ${inspect(error)}`);
  return error;
}

describe('the cloudflare provider against the local API stand-in', () => {
  let cf: CloudflareStandIn;
  before(async () => {
    cf = await startCloudflareStandIn({ zones: ['example.test', 'sub.example.test'] });
  });
  after(() => cf.stop());

  const provider = (token = cf.token) =>
    new CloudflareProvider({ token, baseUrl: cf.baseUrl, retryDelayMs: 50 });

  it('adds values beside each other and removes only the one named', async () => {
    const p = provider();
    const name = '_acme-challenge.www.example.test';
    await p.addTxt({ name, value: 'first' }, signal());
    await p.addTxt({ name, value: 'second' }, signal());
    await p.addTxt({ name, value: 'second' }, signal()); // adding twice is not an error
    assert.deepEqual(cf.txt(name).sort(), ['first', 'second']);
    const stored = cf.records('example.test').find((r) => r.content === 'first');
    assert.equal(stored?.ttl, 60);
    assert.equal(stored?.name, name);
    await p.removeTxt({ name, value: 'first' }, signal());
    assert.deepEqual(cf.txt(name), ['second']);
    await p.removeTxt({ name, value: 'first' }, signal()); // already gone: not an error
    await p.removeTxt({ name, value: 'second' }, signal());
    assert.deepEqual(cf.txt(name), []);
    assert.ok(cf.requests.every((r) => r.authorized));
    const posts = cf.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(posts[0]?.body, { type: 'TXT', name, content: 'first', ttl: 60 });
  });

  it('puts a record in the deepest zone that holds it', async () => {
    const p = provider();
    await p.addTxt({ name: '_acme-challenge.a.sub.example.test', value: 'deep' }, signal());
    assert.deepEqual(
      cf.records('sub.example.test').map((r) => r.name),
      ['_acme-challenge.a.sub.example.test'],
    );
    assert.deepEqual(cf.records('example.test'), []);
    await p.removeTxt({ name: '_acme-challenge.a.sub.example.test', value: 'deep' }, signal());
    assert.deepEqual(cf.records(), []);
  });

  it('reports a bad token clearly, without the token, and changes nothing', async () => {
    const wrong = randomBytes(30).toString('base64url');
    const before = cf.requests.length;
    const error = await rejection(
      provider(wrong).addTxt({ name: '_acme-challenge.example.test', value: 'v' }, signal()),
      CloudflareError,
    );
    assert.equal(error.kind, 'api');
    assert.equal(error.status, 401);
    assert.deepEqual(error.errors, [{ code: 10000, message: 'Authentication error' }]);
    assert.equal(error.authentication, true);
    assert.equal(error.retryable, false);
    assert.equal(error.record, 'TXT _acme-challenge.example.test');
    assert.match(error.message, /_acme-challenge\.example\.test/);
    assert.match(error.message, /HTTP 401: 10000 Authentication error \(check the API token/);
    for (const text of [error.message, inspect(error), JSON.stringify(error)])
      assert.ok(!text.includes(wrong) && !text.includes(cf.token), 'no token in the error');
    assert.equal(cf.requests.length - before, 1, 'not retried');
    assert.deepEqual(cf.records(), []);
  });

  it('reports a name in no zone of the account', async () => {
    const error = await rejection(
      provider().addTxt({ name: '_acme-challenge.elsewhere.test', value: 'v' }, signal()),
      CloudflareError,
    );
    assert.equal(error.kind, 'zone');
    assert.match(error.message, /no zone holding _acme-challenge\.elsewhere\.test is visible to this token/);
  });

  it('waits out a 429 with Retry-After and a proxy error page, then succeeds', async () => {
    const isPost = (method: string) => method === 'POST';
    cf.failNext({
      status: 429,
      retryAfter: '1',
      errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
      match: isPost,
    });
    cf.failNext({ status: 502, rawBody: '<html><body>502 Bad Gateway</body></html>', match: isPost });
    const started = Date.now();
    const p = provider();
    await p.addTxt({ name: '_acme-challenge.retry.example.test', value: 'v' }, signal());
    assert.ok(Date.now() - started >= 1_000, 'Retry-After was honoured');
    assert.deepEqual(cf.txt('_acme-challenge.retry.example.test'), ['v']);
    await p.removeTxt({ name: '_acme-challenge.retry.example.test', value: 'v' }, signal());

    cf.failNext({ status: 500, errors: [{ code: 10001, message: 'Internal server error' }] }, 3);
    const error = await rejection(
      p.addTxt({ name: '_acme-challenge.retry.example.test', value: 'v' }, signal()),
      CloudflareError,
    );
    assert.equal(error.status, 500);
    assert.equal(error.retryable, true);
    assert.match(error.message, /HTTP 500: 10001 Internal server error/);
  });

  it('serves the DNS-01 solver: the challenge record appears on present and goes on cleanup', async () => {
    const solver = new Dns01Solver({
      provider: provider(),
      resolvers: ['127.0.0.1:9'], // never asked: no CNAME following, no propagation check
      followCname: false,
      propagationCheck: false,
    });
    const challenge: PendingChallenge = {
      type: 'dns-01',
      domain: 'www.example.test',
      wildcard: false,
      token: 'tok',
      keyAuthorization: 'tok.thumbprint',
    };
    await solver.present(challenge, signal());
    await solver.wait(challenge, signal());
    assert.deepEqual(cf.txt('_acme-challenge.www.example.test'), [dns01RecordValue('tok.thumbprint')]);
    await solver.cleanup(challenge, signal());
    assert.deepEqual(cf.txt('_acme-challenge.www.example.test'), []);
  });
});

/** A hook written in node that performs the change with our RFC 2136 provider (run through tsx). */
const NODE_HOOK = `
import { Rfc2136Provider } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/solvers/dns/rfc2136.ts')).href)};
const [action, fqdn, value] = process.argv.slice(2);
const provider = new Rfc2136Provider({
  host: process.env.DNS_HOST,
  port: Number(process.env.DNS_PORT),
  keyName: process.env.TSIG_KEY,
  secret: process.env.TSIG_SECRET,
});
const record = { name: fqdn.replace(/\\.$/, ''), value };
if (process.env.TLSWARD_DNS_NAME !== fqdn || process.env.TLSWARD_DNS_VALUE !== value) {
  console.error('environment and arguments disagree');
  process.exit(4);
}
if (action === 'present') await provider.addTxt(record, AbortSignal.timeout(10_000));
else if (action === 'cleanup') await provider.removeTxt(record, AbortSignal.timeout(10_000));
else {
  console.error('unknown action ' + action);
  process.exit(2);
}
console.log(action + ' ' + fqdn + ' done');
`;

/** The same in bash with knsupdate (knot-dnsutils), the way an operator would write it. */
const BASH_HOOK = `#!/bin/bash
set -euo pipefail
action=$1 name=$2 value=$3
case "$action" in
  present) change="update add $name 60 TXT \\"$value\\"" ;;
  cleanup) change="update delete $name TXT \\"$value\\"" ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
zone=
for candidate in $DNS_ZONES; do
  case "$name" in *".$candidate.") zone=$candidate; break ;; esac
done
[ -n "$zone" ] || { echo "no zone of ours holds $name" >&2; exit 3; }
knsupdate <<EOF
server $DNS_HOST $DNS_PORT
zone $zone
key hmac-sha256:$TSIG_KEY $TSIG_SECRET
$change
send
EOF
echo "$action $name done"
`;

const hasKnsupdate = (() => {
  try {
    execFileSync('knsupdate', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('the exec provider running real RFC 2136 hooks against Knot, and issuing from Pebble', () => {
  let peers: Dns01Peers;
  let knot: RunningKnot;
  let nodeHook: string;
  let bashHook: string;

  before(async () => {
    peers = await startDns01Peers({
      zones: ['example.test', 'validation.test'],
      records: { 'example.test': ['_acme-challenge.delegated CNAME delegated.validation.test.'] },
    });
    knot = peers.knot;
    nodeHook = join(scratch, 'hook.mjs');
    await writeFile(nodeHook, NODE_HOOK);
    bashHook = join(scratch, 'hook.sh');
    await writeFile(bashHook, BASH_HOOK);
    await chmod(bashHook, 0o755);
  });
  after(() => peers?.stop());

  const hookEnv = () => ({
    DNS_HOST: knot.host,
    DNS_PORT: String(knot.port),
    TSIG_KEY: knot.tsig.name,
    TSIG_SECRET: knot.tsig.secret,
    DNS_ZONES: knot.zones.join(' '),
  });
  const execProvider = (options: Partial<ExecProviderOptions> = {}) =>
    new ExecProvider({
      command: [process.execPath, '--import', 'tsx', nodeHook],
      cwd: ROOT, // where tsx is found
      env: hookEnv(),
      timeoutMs: 30_000,
      ...options,
    });

  const solver = (provider: DnsProvider) =>
    new Dns01Solver({
      provider,
      resolvers: [knot.address],
      nameserverPort: knot.port,
      pollingIntervalMs: 100,
    });

  it('adds and removes values through a node hook', async () => {
    const provider = execProvider();
    const name = '_acme-challenge.hook.example.test';
    await provider.addTxt({ name, value: 'one' }, signal());
    await provider.addTxt({ name, value: 'two' }, signal());
    assert.deepEqual((await knot.txt(name)).sort(), ['one', 'two']);
    await provider.removeTxt({ name, value: 'one' }, signal());
    assert.deepEqual(await knot.txt(name), ['two']);
    await provider.removeTxt({ name, value: 'two' }, signal());
    assert.deepEqual(await knot.txt(name), []);
  });

  it('issues a certificate for a name and its wildcard through the node hook, and cleans up', async () => {
    const provider = recording(execProvider());
    const issued = await peers
      .issuer(solver(provider))
      .issue({ names: ['example.test', '*.example.test'] }, signal());
    assert.deepEqual([...issued.info.names].sort(), ['*.example.test', 'example.test']);
    assert.equal(provider.added.length, 2);
    assert.deepEqual(provider.removed.map((r) => r.value).sort(), provider.added.map((r) => r.value).sort());
    assert.deepEqual(await knot.txt('_acme-challenge.example.test'), []);
  });

  it('issues through a bash hook calling knsupdate, following a CNAME into another zone', {
    skip: hasKnsupdate ? false : 'knsupdate (knot-dnsutils) is not installed',
  }, async () => {
    const provider = recording(new ExecProvider({ command: [bashHook], env: hookEnv(), timeoutMs: 30_000 }));
    const issued = await peers
      .issuer(solver(provider))
      .issue({ names: ['delegated.example.test', 'www.example.test'] }, signal());
    assert.deepEqual([...issued.info.names].sort(), ['delegated.example.test', 'www.example.test']);
    assert.deepEqual(provider.added.map((r) => r.name).sort(), [
      '_acme-challenge.www.example.test',
      'delegated.validation.test',
    ]);
    assert.equal(provider.removed.length, 2);
    assert.deepEqual(await knot.txt('delegated.validation.test'), []);
    assert.deepEqual(await knot.txt('_acme-challenge.www.example.test'), []);
  });

  it('fails an issuance with the failing hook output (secrets masked) and still runs cleanup', async () => {
    // A hook whose present fails the way a broken one does: wrong TSIG secret, so Knot answers BADSIG.
    const wrong = randomBytes(32).toString('base64');
    const provider = recording(execProvider({ env: { ...hookEnv(), TSIG_SECRET: wrong } }));
    const error = await rejection(
      peers.issuer(solver(provider)).issue({ names: ['broken.example.test'] }, signal()),
      ExecProviderError,
    );
    assert.equal(error.failure, 'exit');
    assert.equal(error.action, 'present');
    assert.equal(error.record, 'TXT _acme-challenge.broken.example.test.');
    assert.match(error.message, /BADSIG/);
    assert.ok(!error.message.includes(wrong) && !error.message.includes(knot.tsig.secret));
    assert.equal(provider.removed.length, 1, 'cleanup ran');
    assert.deepEqual(await knot.txt('_acme-challenge.broken.example.test'), []);
  });
});
