// Configurations that must load: Stalwart's own ACME example (as-is, and pointed at a test CA), and a file
// using every feature, checked against the typed model it produces.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../../../src/daemon/config/index.js';
import { GOOD, NOW, summary, TEST_CA, TEST_ENV } from './support.js';

const STALWART = join(GOOD, 'stalwart.toml');
const FULL = join(GOOD, 'full.toml');

describe("Stalwart's example configuration", () => {
  it("loads as-is with only the expected contact warning (Let's Encrypt refuses example.org)", async () => {
    const result = await loadConfig(STALWART, { env: TEST_ENV, now: NOW });
    assert.ok(result.config, summary(result).join('\n'));
    assert.deepEqual(summary(result), [
      `14: warning: acme.letsencrypt.contact: Let's Encrypt refuses contact addresses at the reserved domain "example.org"`,
    ]);
    const provider = result.config.acme.get('letsencrypt');
    assert.deepEqual(
      { ...provider },
      {
        id: 'letsencrypt',
        directory: 'https://acme-v02.api.letsencrypt.org/directory',
        contact: ['mailto:postmaster@example.org'],
        cache: '/opt/stalwart-mail/etc/acme',
        renewBeforeMs: 30 * 86_400_000,
        challenges: [{ type: 'tls-alpn-01', port: 443 }],
        domains: ['mail.example.org'],
        default: false,
        eab: undefined,
        keyType: 'ec256',
        reuseKey: false,
        preferredChain: undefined,
        caFile: undefined,
        exportPath: undefined,
        exportOwner: { uid: undefined, gid: undefined },
        onRenew: undefined,
      },
    );
    assert.deepEqual(result.config.server, {
      hostname: 'mail.example.org',
      tls: { acme: 'letsencrypt', certificate: undefined },
    });
    const smtp = result.config.listeners.get('smtp');
    assert.equal(smtp?.protocol, 'smtp');
    assert.equal(smtp?.served, false);
    assert.deepEqual(smtp?.tls, {
      implicit: false,
      certificate: { kind: 'acme', provider: 'letsencrypt', inherited: false },
    });
  });

  it('loads clean with the directory pointed at a test CA', async () => {
    const text = readFileSync(STALWART, 'utf8').replace(
      'https://acme-v02.api.letsencrypt.org/directory',
      TEST_CA,
    );
    const result = await parseConfig(text, STALWART, { env: TEST_ENV, now: NOW });
    assert.deepEqual(summary(result), []);
    assert.equal(result.config?.acme.get('letsencrypt')?.directory, TEST_CA);
  });

  it('warns about a port other than 443 with the public CA', async () => {
    const text = readFileSync(STALWART, 'utf8').replace('port = 443', 'port = 8443');
    const result = await parseConfig(text, STALWART, { env: TEST_ENV, now: NOW });
    assert.ok(result.config);
    assert.deepEqual(summary(result), [
      `14: warning: acme.letsencrypt.contact: Let's Encrypt refuses contact addresses at the reserved domain "example.org"`,
      "16: warning: acme.letsencrypt.port: Let's Encrypt always connects to port 443 for tls-alpn-01; port 8443 works only if something forwards 443 to it",
    ]);
  });
});

describe('a configuration using every feature', () => {
  it('loads with no problem into the typed model', async () => {
    const result = await loadConfig(FULL, { env: TEST_ENV, now: NOW });
    assert.deepEqual(summary(result), []);
    const config = result.config!;
    assert.equal(config.file, FULL);
    assert.deepEqual([...config.acme.keys()], ['alpn', 'dns', 'hook', 'cf', 'web']);

    const alpn = config.acme.get('alpn')!;
    assert.deepEqual(alpn.domains, ['mail.example.org', 'xn--bcher-kva.example.org', 'imap.example.org']);
    assert.deepEqual(alpn.challenges, [{ type: 'tls-alpn-01', port: 8443 }]);
    assert.equal(alpn.renewBeforeMs, 36 * 3_600_000);
    assert.deepEqual(alpn.contact, ['mailto:admin@example.org']);
    assert.deepEqual(alpn.eab, { kid: 'kid-1', hmacKey: 'c2VjcmV0LWVhYi1obWFjLWtleQ' });
    assert.equal(alpn.keyType, 'rsa2048');
    assert.equal(alpn.default, true);
    assert.equal(alpn.caFile, join(GOOD, 'files/ca.pem'));
    assert.equal(alpn.cache, '/var/lib/tlsward/acme');
    assert.equal(alpn.exportPath, '/var/lib/tlsward/export/%{name}%');
    assert.deepEqual(alpn.exportOwner, { uid: 0, gid: 0 });
    assert.deepEqual(alpn.onRenew, ['systemctl', 'reload', 'postfix']);

    const dns = config.acme.get('dns')!;
    assert.equal(dns.directory, 'https://localhost:14000/dir');
    assert.deepEqual(dns.contact, ['mailto:hostmaster@example.org', 'mailto:admin@example.org']);
    assert.deepEqual(dns.challenges, [
      {
        type: 'dns-01',
        dns: {
          provider: 'rfc2136-tsig',
          host: '127.0.0.1',
          port: 5353,
          protocol: 'tcp',
          keyName: 'tlsward-key',
          secret: 'c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cw==',
          tsigAlgorithm: 'hmac-sha512',
          origin: 'example.org',
          pollingIntervalMs: 2000,
          propagationTimeoutMs: 60_000,
          resolvers: [
            { host: '127.0.0.1', port: 5353 },
            { host: '::1', port: 53 },
          ],
          nameservers: [{ host: '127.0.0.1', port: 5354 }],
        },
      },
    ]);
    const hook = config.acme.get('hook')!.challenges[0];
    assert.equal(
      hook.type === 'dns-01' && hook.dns.provider === 'exec' ? hook.dns.command[0] : '',
      '/usr/local/bin/dns-hook',
    );
    const cf = config.acme.get('cf')!.challenges[0];
    assert.equal(cf.type === 'dns-01' && cf.dns.provider === 'cloudflare' ? cf.dns.secret : '', 'cf-token');
    assert.deepEqual(config.acme.get('web')!.challenges, [{ type: 'http-01', port: 80 }]);

    assert.deepEqual(config.certificates.get('static')?.subjects, ['mail.example.org', 'imap.example.org']);
    assert.deepEqual(config.certificates.get('legacy')?.subjects, ['legacy.example.org']);
    assert.match(config.certificates.get('static')!.privateKey, /^-----BEGIN PRIVATE KEY-----/);

    const https = config.listeners.get('https')!;
    assert.equal(https.protocol, 'tcp-proxy');
    if (https.protocol === 'tcp-proxy') {
      assert.deepEqual(https.upstream, { host: 'backend.internal', port: 8080 });
      assert.equal(https.proxyProtocol, 'v2');
    }
    assert.equal(https.sniFallback, 'refuse');
    assert.deepEqual(https.tls, {
      implicit: true,
      certificate: { kind: 'acme', provider: 'alpn', inherited: true },
    });
    const alpnListener = config.listeners.get('alpn')!;
    assert.deepEqual(alpnListener.bind, [
      { host: '127.0.0.1', port: 8443 },
      { host: '::1', port: 8443 },
    ]);
    assert.deepEqual(alpnListener.protocol === 'acme' && alpnListener.passthrough, {
      host: '127.0.0.1',
      port: 9443,
    });
    assert.deepEqual(config.listeners.get('imaps')?.tls.certificate, {
      kind: 'static',
      certificate: 'static',
      inherited: false,
    });
    assert.equal(config.listeners.get('imaps')?.served, false);
  });
});
