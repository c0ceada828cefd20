// `tlsward serve` configurations against real Pebbles: a listener's own `tls.acme` provider overrides the
// global one, static `[certificate."<id>"]` entries serve beside managed ones, SIGHUP reloads in place
// (a broken file is refused, an added domain is obtained), and new certificates are exported and hooked.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { acmeProvider, proxyListener, tomlList } from './support/configs.js';
import {
  echoServer,
  peerCertificate as handshakeThenDrop,
  installed,
  startDaemon,
} from './support/daemon.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { freePort } from './support/processes.js';
import { selfSignedCertificate } from './support/test-ca.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-daemon-config-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** One Pebble for most tests; a second one (another CA, other roots) where two providers must differ. */
let pebble: RunningPebble;
let otherPebble: RunningPebble;
before(async () => {
  [pebble, otherPebble] = await Promise.all([startPebble(), startPebble()]);
});
after(async () => {
  await Promise.all([pebble?.stop(), otherPebble?.stop()]);
});

/**
 * The certificate a TLS client gets from `port` for `servername` (no verification). Unlike the support
 * helper it closes with end(), after the handshake is complete on both sides: a client that drops the
 * socket right after its own handshake leaves the daemon's side waiting (see the shutdown test below).
 */
function peerCertificate(port: number, servername?: string): Promise<tls.PeerCertificate & { raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

function leafOf(cert: { raw: Buffer }): X509Certificate {
  return new X509Certificate(cert.raw);
}

async function signedBy(cert: { raw: Buffer }, ca: RunningPebble): Promise<boolean> {
  const intermediate = new X509Certificate(await ca.intermediatePem());
  return leafOf(cert).verify(intermediate.publicKey);
}

describe('per-listener tls.acme', () => {
  /**
   * A daemon with provider a (the global one, on the first Pebble) for `aDomains` and provider b (on the
   * second Pebble) for `bDomains`, and two listeners in front of an echo server: `global`, and `pinned` to b.
   */
  async function startTwoProviders(cache: string, aDomains: string[], bDomains: string[]) {
    const echo = await echoServer();
    const [globalPort, pinnedPort] = [await freePort(), await freePort()];
    const daemon = await startDaemon(`
[server.tls]
acme = "a"
${acmeProvider('a', pebble, cache, aDomains)}
${acmeProvider('b', otherPebble, cache, bDomains)}
${proxyListener('global', globalPort, echo.port)}
${proxyListener('pinned', pinnedPort, echo.port, 'tls.acme = "b"')}
`);
    return { echo, globalPort, pinnedPort, daemon };
  }

  it("serves each listener its own provider's certificate, the global one where the listener names none", async () => {
    const { echo, globalPort, pinnedPort, daemon } = await startTwoProviders(
      join(scratch, 'per-listener'),
      ['a.example.test'],
      ['b.example.test'],
    );
    try {
      await Promise.all([daemon.waitForLog(installed('a')), daemon.waitForLog(installed('b'))]);

      // No SNI, and a name no certificate covers: the listener's provider answers.
      for (const servername of [undefined, 'unknown.example.test']) {
        const fromGlobal = await peerCertificate(globalPort, servername);
        assert.equal(fromGlobal.subjectaltname, 'DNS:a.example.test', `global listener, SNI ${servername}`);
        assert.ok(await signedBy(fromGlobal, pebble), 'provider a is issued by the first Pebble');
        const fromPinned = await peerCertificate(pinnedPort, servername);
        assert.equal(fromPinned.subjectaltname, 'DNS:b.example.test', `pinned listener, SNI ${servername}`);
        assert.ok(await signedBy(fromPinned, otherPebble), 'provider b is issued by the second Pebble');
        assert.ok(!(await signedBy(fromPinned, pebble)), 'and not by the first one');
      }
      // Each provider's own name gets that provider's certificate on both listeners.
      assert.equal(
        (await peerCertificate(pinnedPort, 'b.example.test')).subjectaltname,
        'DNS:b.example.test',
      );
      assert.equal(
        (await peerCertificate(globalPort, 'a.example.test')).subjectaltname,
        'DNS:a.example.test',
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });

  it("serves a name that both providers cover with the listener's own provider's certificate", async () => {
    // Two CAs for the same name (the config loader warns "two certificates will be obtained for it"):
    // the listener pinned to b must present b's, the other listener a's.
    const { echo, globalPort, pinnedPort, daemon } = await startTwoProviders(
      join(scratch, 'same-name'),
      ['shared.example.test'],
      ['shared.example.test'],
    );
    try {
      await Promise.all([daemon.waitForLog(installed('a')), daemon.waitForLog(installed('b'))]);
      const fromGlobal = await peerCertificate(globalPort, 'shared.example.test');
      const fromPinned = await peerCertificate(pinnedPort, 'shared.example.test');
      assert.ok(await signedBy(fromGlobal, pebble), 'the global listener presents provider a (first Pebble)');
      assert.ok(
        await signedBy(fromPinned, otherPebble),
        'the b listener presents provider b (second Pebble)',
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });
});

describe('static certificates', () => {
  it('serves a [certificate."<id>"] beside the managed ones, chosen by SNI, and on a listener pinned to it', async () => {
    const files = await selfSignedCertificate(join(scratch, 'static-files'), {
      names: ['static.example.test', 'legacy.example.test'],
    });
    const staticLeaf = new X509Certificate(await readFile(files.cert));
    const echo = await echoServer();
    const [sniPort, pinnedPort] = [await freePort(), await freePort()];
    const daemon = await startDaemon(`
[server.tls]
acme = "managed"
${acmeProvider('managed', pebble, join(scratch, 'static-cache'), ['managed.example.test'])}

[certificate."legacy"]
cert = "%{file:${files.cert}}%"
private-key = "%{file:${files.key}}%"
${proxyListener('sni', sniPort, echo.port)}
${proxyListener('pinned', pinnedPort, echo.port, 'tls.certificate = "legacy"')}
`);
    try {
      await daemon.waitForLog(installed('managed'));
      const isStatic = (cert: { raw: Buffer }) => leafOf(cert).fingerprint256 === staticLeaf.fingerprint256;

      // Chosen by SNI on a listener that follows the global provider.
      for (const name of ['static.example.test', 'legacy.example.test']) {
        assert.ok(isStatic(await peerCertificate(sniPort, name)), `${name} gets the static certificate`);
      }
      const managed = await peerCertificate(sniPort, 'managed.example.test');
      assert.equal(managed.subjectaltname, 'DNS:managed.example.test');
      assert.ok(await signedBy(managed, pebble));
      assert.ok(!isStatic(await peerCertificate(sniPort)), 'no SNI: the global provider, not the static one');

      // A listener with tls.certificate = "legacy": the static one without SNI and for unknown names.
      assert.ok(isStatic(await peerCertificate(pinnedPort)), 'no SNI on the pinned listener');
      assert.ok(isStatic(await peerCertificate(pinnedPort, 'unknown.example.test')), 'unknown name');
      assert.equal(
        (await peerCertificate(pinnedPort, 'managed.example.test')).subjectaltname,
        'DNS:managed.example.test',
        'a name the managed certificate covers exactly still gets it',
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });
});

describe('SIGHUP', () => {
  const config = (cache: string, port: number, upstream: number, domains: string[], ca = pebble) => `
[server.tls]
acme = "site"
${acmeProvider('site', ca, cache, domains)}
${proxyListener('https', port, upstream)}
`;

  it('keeps the running configuration when the new file has errors, and still serves', async () => {
    const echo = await echoServer();
    const port = await freePort();
    const good = config(join(scratch, 'hup-broken'), port, echo.port, ['one.example.test']);
    const daemon = await startDaemon(good);
    try {
      await daemon.waitForLog(installed('site'));
      const served = await peerCertificate(port, 'one.example.test');
      const seen = daemon.logs().length;
      await daemon.reload(good.replace('domains = [', 'domains = [[ "two.example.test"'));
      await daemon.waitForLog(
        (e) => e.msg === 'the new configuration has errors; the running one stays',
        10_000,
        seen,
      );
      const problem = daemon
        .logs()
        .slice(seen)
        .find((e) => e.msg.startsWith(`${daemon.configFile}:`));
      assert.ok(problem, 'the problem is logged with the file and line');
      assert.match(problem.msg, /syntax error/);
      assert.equal(daemon.process.exitInfo, undefined, 'still running');
      const again = await peerCertificate(port, 'one.example.test');
      assert.equal(again.serialNumber, served.serialNumber, 'the same certificate keeps serving');
      assert.ok(!daemon.logs().some((e) => e.msg === 'configuration reloaded'));
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });

  it('obtains a certificate for an added domain and serves it without a restart', async () => {
    const echo = await echoServer();
    const port = await freePort();
    const cache = join(scratch, 'hup-added');
    const daemon = await startDaemon(
      config(cache, port, echo.port, ['one.example.test', 'two.example.test']),
    );
    try {
      await daemon.waitForLog(installed('site'));
      const first = await peerCertificate(port, 'two.example.test');
      assert.equal(first.subjectaltname, 'DNS:one.example.test, DNS:two.example.test');
      const seen = daemon.logs().length;
      await daemon.reload(
        config(cache, port, echo.port, ['one.example.test', 'two.example.test', 'three.example.test']),
      );
      await daemon.waitForLog((e) => e.msg === 'configuration reloaded', 10_000, seen);
      await daemon.waitForLog(installed('site'), 30_000, seen);
      const second = await peerCertificate(port, 'three.example.test');
      assert.match(String(second.subjectaltname), /DNS:three\.example\.test/);
      assert.notEqual(second.serialNumber, first.serialNumber);
      assert.equal(
        (await peerCertificate(port, 'one.example.test')).serialNumber,
        second.serialNumber,
        'the old names are served from the new certificate',
      );
      assert.equal(daemon.process.exitInfo, undefined, 'the same process, never restarted');
      assert.equal(daemon.logs().filter((e) => e.msg === 'tlsward is running').length, 1);
      assert.ok(daemon.logs().every((e) => e.pid === undefined || e.pid === daemon.process.pid));
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });

  it('keeps serving the old certificate for the old names while the reload cannot obtain the new one', async () => {
    // The CA is down when the reload adds a name: the certificate for [one, two, three] cannot be had yet,
    // so one and two must go on being served with the certificate the daemon already has.
    const ca = await startPebble();
    const echo = await echoServer();
    const port = await freePort();
    const cache = join(scratch, 'hup-outage');
    const daemon = await startDaemon(
      config(cache, port, echo.port, ['one.example.test', 'two.example.test'], ca),
    );
    try {
      await daemon.waitForLog(installed('site'));
      const first = await peerCertificate(port, 'one.example.test');
      await ca.process.stop();
      const seen = daemon.logs().length;
      await daemon.reload(
        config(cache, port, echo.port, ['one.example.test', 'two.example.test', 'three.example.test'], ca),
      );
      await daemon.waitForLog((e) => e.provider === 'site' && typeof e.failures === 'number', 30_000, seen);
      const still = await peerCertificate(port, 'one.example.test').catch((error: unknown) =>
        assert.fail(`one.example.test is no longer served after the reload: ${String(error)}`),
      );
      assert.equal(still.serialNumber, first.serialNumber);
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
      await ca.stop();
    }
  });
});

describe('export and reload hooks', () => {
  let hookScript: string;
  before(async () => {
    // Writes the TLSWARD_* environment it was run with to argv[2] as JSON, then exits with argv[3].
    hookScript = join(scratch, 'hook.mjs');
    await writeFile(
      hookScript,
      `import { writeFileSync } from 'node:fs';
const [out, code = '0'] = process.argv.slice(2);
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('TLSWARD_')));
writeFileSync(out, JSON.stringify(env));
process.exit(Number(code));
`,
    );
  });

  it('exports the new certificate as PEM files matching the served one, and runs the hook with its details', async () => {
    const echo = await echoServer();
    const port = await freePort();
    const exportRoot = join(scratch, 'export');
    const hookOut = join(scratch, 'hook-env.json');
    const daemon = await startDaemon(`
[server.tls]
acme = "exported"
${acmeProvider('exported', pebble, join(scratch, 'export-cache'), ['export.example.test', 'www.export.example.test'], `export = "${exportRoot}/%{name}%"\non-renew = ${tomlList([process.execPath, hookScript, hookOut])}`)}
${proxyListener('https', port, echo.port)}
`);
    try {
      await daemon.waitForLog((e) => e.msg === 'reload hook ran' && e.provider === 'exported');
      const served = leafOf(await peerCertificate(port, 'export.example.test'));
      const folder = join(exportRoot, 'export.example.test');
      const read = (name: string) => readFile(join(folder, name), 'utf8');
      const [certPem, chainPem, fullchainPem, keyPem] = await Promise.all([
        read('cert.pem'),
        read('chain.pem'),
        read('fullchain.pem'),
        read('privkey.pem'),
      ]);
      assert.equal(new X509Certificate(certPem).fingerprint256, served.fingerprint256, 'cert.pem is served');
      assert.ok(fullchainPem.startsWith(certPem.trim()), 'fullchain.pem starts with the leaf');
      assert.ok(fullchainPem.includes(chainPem.trim()), 'and holds the chain');
      assert.ok(await signedBy({ raw: new X509Certificate(certPem).raw }, pebble));
      assert.ok(served.checkPrivateKey(createPrivateKey(keyPem)), 'privkey.pem is the served key');
      assert.equal((await stat(join(folder, 'privkey.pem'))).mode & 0o777, 0o600);

      const env = JSON.parse(await readFile(hookOut, 'utf8')) as Record<string, string>;
      assert.equal(env.TLSWARD_PROVIDER, 'exported');
      assert.equal(env.TLSWARD_DOMAINS, 'export.example.test www.export.example.test');
      assert.equal(env.TLSWARD_FULLCHAIN, join(folder, 'fullchain.pem'));
      assert.equal(env.TLSWARD_PRIVATE_KEY, join(folder, 'privkey.pem'));
      assert.equal(env.TLSWARD_CERTIFICATE, join(folder, 'cert.pem'));
      assert.equal(env.TLSWARD_CHAIN, join(folder, 'chain.pem'));
      assert.equal(env.TLSWARD_NOT_AFTER, new Date(served.validTo).toISOString());
      assert.equal(
        env.TLSWARD_SERIAL?.toUpperCase().replace(/^0+/, ''),
        served.serialNumber.replace(/^0+/, ''),
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });

  it('logs a failing hook and keeps serving the new certificate', async () => {
    const echo = await echoServer();
    const port = await freePort();
    const hookOut = join(scratch, 'failing-hook-env.json');
    const daemon = await startDaemon(`
[server.tls]
acme = "failing"
${acmeProvider('failing', pebble, join(scratch, 'failing-cache'), ['failing.example.test'], `on-renew = ${tomlList([process.execPath, hookScript, hookOut, '1'])}`)}
${proxyListener('https', port, echo.port)}
`);
    try {
      const failure = await daemon.waitForLog((e) => e.msg === 'export or reload hook failed');
      assert.equal(failure.provider, 'failing');
      assert.match(String(failure.error), /exited with 1/);
      const env = JSON.parse(await readFile(hookOut, 'utf8')) as Record<string, string>;
      assert.equal(env.TLSWARD_PROVIDER, 'failing', 'the hook did run');
      const served = await peerCertificate(port, 'failing.example.test');
      assert.equal(served.subjectaltname, 'DNS:failing.example.test');
      assert.ok(await signedBy(served, pebble));
      assert.equal(daemon.process.exitInfo, undefined, 'the daemon is still running');
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });
});

describe('an idle daemon', () => {
  /** CPU time (utime + stime, in clock ticks of 10 ms) the process has used so far. */
  async function cpuTicks(pid: number): Promise<number> {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  }

  it('waits for a renewal months away without spinning', async () => {
    // Pebble's certificates last 5 years: the renewal is due far beyond setTimeout's 24.8-day maximum.
    const echo = await echoServer();
    const port = await freePort();
    const daemon = await startDaemon(`
${acmeProvider('site', pebble, join(scratch, 'idle-cache'), ['idle.example.test'])}
${proxyListener('https', port, echo.port)}
`);
    try {
      await daemon.waitForLog(installed('site'));
      const before = await cpuTicks(daemon.process.pid);
      await sleep(2_000);
      const used = (await cpuTicks(daemon.process.pid)) - before;
      const overflows = daemon.logs().filter((e) => e.msg.includes('TimeoutOverflowWarning')).length;
      assert.equal(overflows, 0, 'no TimeoutOverflowWarning (a timer clamped to 1 ms)');
      assert.ok(used < 10, `idle for 2 s but used ${used * 10} ms of CPU`);
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
    }
  });

  it('stops within the drain time although a client dropped its connection right after the handshake', async () => {
    const echo = await echoServer();
    const port = await freePort();
    const daemon = await startDaemon(`
${acmeProvider('site', pebble, join(scratch, 'drop-cache'), ['drop.example.test'])}
${proxyListener('https', port, echo.port)}
`);
    try {
      await daemon.waitForLog(installed('site'));
      // Like a health check or scanner: close as soon as the client side of the handshake is done.
      await handshakeThenDrop(port, 'drop.example.test');
      const started = Date.now();
      assert.equal(await daemon.stop(), 0);
      const took = Date.now() - started;
      assert.ok(took < 5_000, `stopping took ${took} ms with --drain 2`);
    } finally {
      await daemon.stop();
      echo.close();
    }
  });
});
