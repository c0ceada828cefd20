// Validation beyond the one-mistake corpus: several errors reported together, warnings for risky but legal
// settings, defaults resolved in the model, and `tlsward check` / ConfigError built on top.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECK_EXIT_ERRORS,
  CHECK_EXIT_OK,
  ConfigError,
  checkConfigFile,
  loadConfigOrThrow,
  unservedListeners,
} from '../../../../src/daemon/config/index.js';
import { TlswardError } from '../../../../src/errors.js';
import { load, summary, TEST_CA } from './support.js';

describe('several problems at once', () => {
  it('reports all of them, in file order, each at its line and key', async () => {
    const result = await load(`[server]
hostname = "mail.example.org"
colour = "blue"

[acme."le"]
directory = "${TEST_CA}"
renew-before = "soon"
key-type = "dsa"
domains = ["*.example.org"]

[server.listener."a"]
bind = "[::]:443"
protocol = "tcp-proxy"
tls = { implicit = true, acme = "ls" }
`);
    assert.equal(result.config, undefined);
    assert.deepEqual(
      result.problems.map((p) => `${p.line} ${p.key}`),
      [
        '3 server.colour',
        '7 acme.le.renew-before',
        '8 acme.le.key-type',
        '9 acme.le.domains',
        '11 server.listener.a.upstream',
        '14 server.listener.a.tls.acme',
      ],
    );
  });
});

describe('defaults', () => {
  it("fills in Let's Encrypt, 30d, tls-alpn-01 on 443, ec256 and the server hostname", async () => {
    const result = await load(
      '[server]\nhostname = "Mail.Example.ORG."\n\n[acme.le]\ncontact = "ops@tlsward.dev"\n',
    );
    assert.deepEqual(summary(result), []);
    const le = result.config!.acme.get('le')!;
    assert.equal(le.directory, 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(le.renewBeforeMs, 30 * 86_400_000);
    assert.deepEqual(le.challenges, [{ type: 'tls-alpn-01', port: 443 }]);
    assert.equal(le.keyType, 'ec256');
    assert.deepEqual(le.domains, ['mail.example.org']);
    assert.deepEqual(le.contact, ['mailto:ops@tlsward.dev']);
  });

  it('accepts numbers and booleans written as strings (so macros can supply them)', async () => {
    const result = await load(
      `[acme.le]\ndirectory = "${TEST_CA}"\ndomains = "a.example.org"\nport = "%{env:P}%"\ndefault = "true"\n`,
      { env: { P: '8443' } },
    );
    assert.deepEqual(result.config?.acme.get('le')?.challenges, [{ type: 'tls-alpn-01', port: 8443 }]);
    assert.equal(result.config?.acme.get('le')?.default, true);
  });

  it('keeps the challenge order of preference', async () => {
    const result = await load(
      `[acme.le]\ndirectory = "${TEST_CA}"\ndomains = ["*.a.example.org", "a.example.org"]\nchallenge = ["dns-01", "http-01"]\nprovider = "exec"\ncommand = ["/bin/hook"]\n`,
    );
    assert.deepEqual(
      result.config?.acme.get('le')?.challenges.map((c) => c.type),
      ['dns-01', 'http-01'],
    );
  });
});

describe('warnings', () => {
  const acme = (lines: string) => `[server]\nhostname = "mail.example.org"\n\n[acme.le]\n${lines}\n`;

  it('http-01 with no http listener on port 80 and port not 80', async () => {
    const result = await load(acme(`directory = "${TEST_CA}"\nchallenge = "http-01"\nport = 8080`));
    assert.ok(result.config);
    assert.deepEqual(summary(result), [
      '7: warning: acme.le.port: the CA connects to port 80 for http-01, but no http listener binds port 80 and http-01 is answered on port 8080; this works only if a proxy forwards port 80 there',
    ]);
  });

  it('no http-01 warning when an http listener binds port 80', async () => {
    const result = await load(
      `${acme(`directory = "${TEST_CA}"\nchallenge = "http-01"\nport = 8080`)}\n[server.listener.web]\nbind = "[::]:80"\nprotocol = "http"\n`,
    );
    assert.deepEqual(summary(result), []);
  });

  it('renew-before longer than 60 days', async () => {
    const result = await load(acme(`directory = "${TEST_CA}"\nrenew-before = "9w"`));
    assert.ok(result.config);
    assert.match(summary(result)[0] ?? '', /^6: warning: acme\.le\.renew-before: 63d is longer than typical/);
  });

  it('a CA that requires external account binding', async () => {
    const result = await load(
      acme('directory = "https://acme.zerossl.com/v2/DV90"\ncontact = "ops@tlsward.dev"'),
    );
    assert.deepEqual(summary(result), [
      '4: warning: acme.le.eab: ZeroSSL accepts new accounts only with external account binding (eab.kid and eab.hmac-key)',
    ]);
  });

  it('port read as the DNS port when rfc2136-tsig shares the table with tls-alpn-01', async () => {
    const result = await load(
      acme(
        `directory = "${TEST_CA}"\nchallenge = ["tls-alpn-01", "dns-01"]\nprovider = "rfc2136-tsig"\nhost = "ns1.example.org"\nport = 5353\nkey = "k"\nsecret = "c2VjcmV0"`,
      ),
    );
    assert.ok(result.config);
    assert.deepEqual(summary(result), [
      `9: warning: acme.le.port: with provider = "rfc2136-tsig" this is the DNS server's port; tls-alpn-01 is answered on the standard port`,
    ]);
  });

  it('a name in two providers, and a name listed twice', async () => {
    const result = await load(
      `${acme(`directory = "${TEST_CA}"\ndomains = ["a.example.org", "A.example.org."]`)}\n[acme.other]\ndirectory = "${TEST_CA}"\ndomains = ["a.example.org"]\n`,
    );
    assert.ok(result.config);
    assert.deepEqual(summary(result), [
      '6: warning: acme.le.domains: "a.example.org" is listed twice',
      '10: warning: acme.other.domains: a.example.org is also in acme.le.domains; two certificates will be obtained for it',
    ]);
  });

  it('a tcp-proxy listener without implicit TLS', async () => {
    const result = await load(
      `${acme(`directory = "${TEST_CA}"`)}\n[server.listener.p]\nbind = "[::]:443"\nprotocol = "tcp-proxy"\nupstream = "127.0.0.1:8443"\n`,
    );
    assert.ok(result.config);
    assert.match(
      summary(result)[0] ?? '',
      /warning: server\.listener\.p\.tls: a tcp-proxy without tls\.implicit = true/,
    );
  });
});

describe('listeners', () => {
  it('marks Stalwart mail protocols as not served yet', async () => {
    const result = await load(
      `[certificate.c]\ncert = "%{file:/c}%"\nprivate-key = "%{file:/k}%"\n\n[server.listener.submissions]\nbind = ["[::]:465"]\nprotocol = "smtp"\ntls.implicit = true\ntls.certificate = "c"\n`,
      { files: await fixtureFiles() },
    );
    assert.deepEqual(summary(result), []);
    assert.deepEqual(
      unservedListeners(result.config!).map((l) => `${l.id}:${l.protocol}`),
      ['submissions:smtp'],
    );
  });

  it('refuses implicit TLS when the file has no certificate at all', async () => {
    const result = await load(
      '[server.listener.x]\nbind = "[::]:993"\nprotocol = "imap"\ntls.implicit = true\n',
    );
    assert.deepEqual(summary(result), [
      '4: server.listener.x.tls.implicit: implicit TLS needs a certificate, but the file has no [acme."<id>"] or [certificate."<id>"]',
    ]);
  });

  it('reports a private key that does not match its certificate', async () => {
    const files = await fixtureFiles();
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const result = await load('[certificate.c]\ncert = "%{file:/c}%"\nprivate-key = "%{file:/other}%"\n', {
      files: { ...files, '/other': String(other) },
    });
    assert.deepEqual(summary(result), [
      '3: certificate.c.private-key: does not match the certificate of certificate.c.cert',
    ]);
  });
});

describe('checkConfigFile and ConfigError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsward-config-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('exits 0 with warnings only, and prints them with a summary', async () => {
    const path = write(
      'warn.toml',
      `[acme.le]\ndirectory = "${TEST_CA}"\ndomains = "a.example.org"\nrenew-before = "70d"\n`,
    );
    const result = await checkConfigFile(path);
    assert.equal(result.exitCode, CHECK_EXIT_OK);
    assert.equal(result.lines.length, 2);
    assert.match(
      result.lines[0] ?? '',
      new RegExp(`^${path}:4: acme\\.le\\.renew-before: warning: 70d is longer`),
    );
    assert.equal(result.lines[1], `${path}: configuration OK (1 warning)`);
  });

  it('exits 2 with errors', async () => {
    const path = write('bad.toml', '[acme.le]\nport = 0\nfoo = 1\n');
    const result = await checkConfigFile(path);
    assert.equal(result.exitCode, CHECK_EXIT_ERRORS);
    assert.equal(result.lines.at(-1), `${path}: 4 errors`);
  });

  it('exits 2 for a file that cannot be read', async () => {
    const path = join(dir, 'missing.toml');
    const result = await checkConfigFile(path);
    assert.equal(result.exitCode, CHECK_EXIT_ERRORS);
    assert.equal(result.lines[0], `${path}: cannot read the configuration file: no such file`);
  });

  it('loadConfigOrThrow throws a ConfigError naming file, line and key', async () => {
    const path = write(
      'throw.toml',
      `[acme.le]\ndirectory = "${TEST_CA}"\ndomains = "a.example.org"\nrenew-before = "x"\n`,
    );
    await assert.rejects(loadConfigOrThrow(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError && error instanceof TlswardError);
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.retryable, false);
      assert.equal(error.file, path);
      assert.equal(error.line, 4);
      assert.equal(error.key, 'acme.le.renew-before');
      assert.match(error.message, /^.*throw\.toml:4: acme\.le\.renew-before: "x" is not a duration/);
      return true;
    });
    const good = write('good.toml', `[acme.le]\ndirectory = "${TEST_CA}"\ndomains = "a.example.org"\n`);
    assert.equal((await loadConfigOrThrow(good)).config.acme.size, 1);
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});

async function fixtureFiles(): Promise<Record<string, string>> {
  const { readFile } = await import('node:fs/promises');
  const { GOOD } = await import('./support.js');
  return {
    '/c': await readFile(join(GOOD, 'files/mail.pem'), 'utf8'),
    '/k': await readFile(join(GOOD, 'files/mail.key'), 'utf8'),
  };
}
