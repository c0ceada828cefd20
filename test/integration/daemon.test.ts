// `tlsward serve` against a real Pebble: Stalwart's configuration starts and serves a Pebble certificate,
// renewal happens by itself without dropping connections, a CA outage is ridden out, and SIGHUP reloads.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { proxyListener } from './support/configs.js';
import { echoServer, installed, peerCertificate, startDaemon } from './support/daemon.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { freePort } from './support/processes.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-daemon-test-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** Stalwart's example from its ACME page, with only `directory` and `port` pointed at the test CA. */
function stalwartConfig(pebble: RunningPebble, basePath: string, extra = ''): string {
  return `
[macros]
host = "mail.example.test"
default_domain = "example.test"
base_path = "${basePath}"

[server]
hostname = "%{HOST}%"

[acme."letsencrypt"]
directory = "${pebble.directoryUrl}"
contact = ["postmaster@%{DEFAULT_DOMAIN}%"]
cache = "%{BASE_PATH}%/etc/acme"
port = ${pebble.tlsPort}
renew-before = "30d"
ca-file = "${pebble.caFile}"

[server.tls]
acme = "letsencrypt"

[server.listener."smtp"]
bind = ["[::]:25"]
protocol = "smtp"

[server.listener."smtp".tls]
acme = "letsencrypt"
${extra}`;
}

describe("Stalwart's example configuration", () => {
  it('starts, obtains a certificate for the server hostname on its own and serves it to TLS clients', async () => {
    const pebble = await startPebble();
    const echo = await echoServer();
    const port = await freePort();
    const daemon = await startDaemon(
      stalwartConfig(pebble, join(scratch, 'stalwart'), proxyListener('https', port, echo.port)),
    );
    try {
      await daemon.waitForLog(
        (e) => e.msg.startsWith('mail protocols are not served yet') && e.listener === 'smtp',
      );
      await daemon.waitForLog(installed());
      const cert = await peerCertificate(port, 'mail.example.test');
      assert.equal(cert.subjectaltname, 'DNS:mail.example.test');
      assert.match(String(cert.issuer.CN), /Pebble Intermediate/);
      const leaf = new X509Certificate(cert.raw);
      const intermediate = new X509Certificate(await pebble.intermediatePem());
      assert.ok(leaf.verify(intermediate.publicKey), 'signed by the Pebble intermediate');
      const cached = await readdir(join(scratch, 'stalwart', 'etc', 'acme'), {
        recursive: true,
        encoding: 'utf8',
      });
      assert.ok(
        cached.some((file) => file.endsWith('mail.example.test/fullchain.pem')),
        'kept in the cache folder',
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      echo.close();
      await pebble.stop();
    }
  });
});

describe('renewal', () => {
  it('renews by itself, serves the new certificate, and keeps an open connection alive', async () => {
    const pebble = await startPebble({ certificateValidityPeriod: 16 });
    const echo = await echoServer();
    const port = await freePort();
    const daemon = await startDaemon(
      stalwartConfig(pebble, join(scratch, 'renewal'), proxyListener('https', port, echo.port)),
    );
    try {
      await daemon.waitForLog(installed());
      const first = await peerCertificate(port, 'mail.example.test');
      const open = tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'mail.example.test',
        rejectUnauthorized: false,
      });
      await new Promise<void>((resolve, reject) => open.once('secureConnect', resolve).once('error', reject));
      // Half of a 16 s lifetime: the next certificate arrives after ~8 s.
      const seen = daemon.logs().length;
      await daemon.waitForLog(installed(), 30_000, seen);
      const second = await peerCertificate(port, 'mail.example.test');
      assert.notEqual(second.serialNumber, first.serialNumber);
      const echoed = new Promise<string>((resolve) =>
        open.once('data', (data: Buffer) => resolve(data.toString())),
      );
      open.write('still here');
      assert.equal(await echoed, 'still here', 'the connection from before the renewal still works');
      open.destroy();
    } finally {
      await daemon.stop();
      echo.close();
      await pebble.stop();
    }
  });

  it('keeps serving the old certificate while the CA is down, and renews once it is back', async () => {
    const pebble = await startPebble({ certificateValidityPeriod: 16 });
    const echo = await echoServer();
    const port = await freePort();
    const daemon = await startDaemon(
      stalwartConfig(pebble, join(scratch, 'outage'), proxyListener('https', port, echo.port)),
    );
    try {
      await daemon.waitForLog(installed());
      const first = await peerCertificate(port, 'mail.example.test');
      await pebble.process.stop();
      const failure = await daemon.waitForLog((e) => e.msg.startsWith('renewal failed'), 40_000);
      assert.equal(failure.provider, 'letsencrypt');
      assert.equal((await peerCertificate(port, 'mail.example.test')).serialNumber, first.serialNumber);
      await pebble.restart();
      // The first retry comes a minute after the failure; the restarted Pebble forgot the account too.
      const seen = daemon.logs().length;
      await daemon.waitForLog(installed(), 100_000, seen);
      assert.notEqual((await peerCertificate(port, 'mail.example.test')).serialNumber, first.serialNumber);
    } finally {
      await daemon.stop();
      echo.close();
      await pebble.stop();
    }
  });
});
