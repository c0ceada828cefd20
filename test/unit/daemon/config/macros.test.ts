// Macro expansion: env, file, cfg and named macros (names ignore case and -/_), nesting, literal insertion
// of file contents, the export placeholder, and what messages may say about values that came from macros.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblems } from '../../../../src/daemon/config/index.js';
import { load, summary, TEST_CA } from './support.js';

const base = (acme: string, head = '') => `${head}
[server]
hostname = "mail.example.org"

[acme."le"]
directory = "${TEST_CA}"
${acme}
`;

describe('macros', () => {
  it('expands env, file, cfg and named macros', async () => {
    const result = await load(
      base(
        `contact = ["%{env:ADMIN}%", "ops@%{cfg:server.hostname}%"]
cache = "%{Base-Path}%/acme"
preferred-chain = "%{file:chain-name}%"`,
        '[macros]\nBASE_PATH = "%{env:ROOT}%/tlsward"\n',
      ),
      {
        env: { ADMIN: 'admin@example.org', ROOT: '/srv' },
        files: { '/etc/tlsward/chain-name': 'ISRG Root X1\n' },
      },
    );
    assert.deepEqual(summary(result), []);
    const le = result.config!.acme.get('le')!;
    assert.deepEqual(le.contact, ['mailto:admin@example.org', 'mailto:ops@mail.example.org']);
    assert.equal(le.cache, '/srv/tlsward/acme');
    assert.equal(le.preferredChain, 'ISRG Root X1');
  });

  it('matches named macros without regard to case, "-" or "_"', async () => {
    const result = await load(
      base(
        'cache = "%{default_domain}%/%{DEFAULT-DOMAIN}%/%{Default_Domain}%"',
        '[macros]\ndefault-domain = "d"\n',
      ),
    );
    assert.equal(result.config?.acme.get('le')?.cache, '/etc/tlsward/d/d/d');
  });

  it('removes one final newline of a file, and inserts its text literally', async () => {
    const result = await load(base('preferred-chain = "[%{file:/x}%]"'), {
      files: { '/x': 'a %{env:NOPE}% b\r\n\n' },
    });
    assert.deepEqual(summary(result), []);
    assert.equal(result.config?.acme.get('le')?.preferredChain, '[a %{env:NOPE}% b\r\n]');
  });

  it('resolves %{cfg:...}% to numbers and to quoted keys', async () => {
    const result = await load(
      base(`port = 8443
preferred-chain = 'port %{cfg:acme."le".port}% of %{cfg:acme.le.directory}%'`),
    );
    assert.equal(result.config?.acme.get('le')?.preferredChain, `port 8443 of ${TEST_CA}`);
  });

  it('keeps %{name}% in export for the daemon to fill', async () => {
    const result = await load(base('export = "/srv/certs/%{name}%"'));
    assert.equal(result.config?.acme.get('le')?.exportPath, '/srv/certs/%{name}%');
  });

  it('reports a failing macro once, where it is defined, not at every use', async () => {
    const result = await load(
      base('cache = "%{a}%"\npreferred-chain = "%{A}%"', '[macros]\na = "%{env:UNSET}%"\n'),
    );
    assert.deepEqual(summary(result), [
      '2: macros.a: environment variable UNSET is not set (used as %{env:UNSET}%)',
    ]);
  });

  it('reports every bad macro in one value', async () => {
    const result = await load(base('cache = "%{env:ONE}%/%{two}%/%{cfg:nope.x}%/%{sys:x}%"'));
    assert.equal(result.problems.length, 4, summary(result).join('\n'));
    assert.ok(result.problems.every((p) => p.key === 'acme.le.cache' && p.line === 7));
  });

  it('never quotes values read from files or the environment', async () => {
    const result = await load(
      base('key-type = "%{file:/k}%"\ncontact = "%{env:C}%"\ndomains = "%{env:C}%"'),
      {
        files: { '/k': 'hunter2' },
        env: { C: 'hunter2@' },
      },
    );
    const text = formatProblems(result.problems).join('\n');
    assert.equal(result.problems.length, 3, text);
    assert.ok(!text.includes('hunter2'), text);
    assert.match(text, /unknown key type \(value hidden\)/);
  });

  it('does not quote a secret referenced through %{cfg:...}%', async () => {
    const result = await load(
      base(`challenge = "dns-01"
provider = "cloudflare"
secret = "tok-SECRET"
key-type = "%{cfg:acme.le.secret}%"`),
    );
    const text = formatProblems(result.problems).join('\n');
    assert.equal(result.problems.length, 1, text);
    assert.ok(!text.includes('SECRET'), text);
  });

  it('leaves unknown top-level tables alone (one unknown-key error, no macro errors inside)', async () => {
    const result = await load(`[storage]\ndata = "%{env:NOPE}%"\n`);
    assert.deepEqual(summary(result), ['1: storage: unknown key']);
  });
});
