// The small parts: key positions in TOML text, durations, addresses, suggestions and key paths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindConflict, parseBindAddress, parseHostPort } from '../../../../src/daemon/config/addresses.js';
import { formatDuration, parseDuration } from '../../../../src/daemon/config/durations.js';
import { formatKey, parseKeyPath } from '../../../../src/daemon/config/paths.js';
import { closest, editDistance } from '../../../../src/daemon/config/suggest.js';
import { scanPositions } from '../../../../src/daemon/config/toml-positions.js';

describe('key positions', () => {
  const text = `# comment [not.a.table]
title = """
[fake]
key = "inside a multi-line string"
"""
[acme."le.x"] # quoted, with a dot
directory = 'https://x/'
eab.kid = "k"   # dotted key

[server.listener.'web']
tls = { implicit = true,
  acme = "le" }
bind = [
  "[::]:80",   # comment, then a second element
  "[::]:443",
]
when = 1979-05-27 07:32:00Z

[[arr]]
x = 1
[[arr]]
x = 2
`;
  const index = scanPositions(text);
  const line = (...path: string[]) => index.get(path)?.line;

  it('finds keys after a multi-line string without seeing its contents', () => {
    assert.equal(line('title'), 2);
    assert.equal(line('fake'), undefined);
    assert.equal(line('key'), undefined);
  });
  it('handles quoted headers and dotted keys', () => {
    assert.equal(line('acme', 'le.x'), 6);
    assert.equal(line('acme', 'le.x', 'directory'), 7);
    assert.equal(line('acme', 'le.x', 'eab'), 8);
    assert.deepEqual(index.get(['acme', 'le.x', 'eab', 'kid']), { line: 8, column: 1 });
  });
  it('handles inline tables over several lines, and array elements', () => {
    assert.equal(line('server', 'listener', 'web', 'tls', 'implicit'), 11);
    assert.deepEqual(index.get(['server', 'listener', 'web', 'tls', 'acme']), { line: 12, column: 3 });
    assert.equal(line('server', 'listener', 'web', 'bind', '0'), 14);
    assert.equal(line('server', 'listener', 'web', 'bind', '1'), 15);
    assert.equal(line('server', 'listener', 'web', 'when'), 17);
  });
  it('numbers arrays of tables', () => {
    assert.equal(line('arr', '0', 'x'), 20);
    assert.equal(line('arr', '1', 'x'), 22);
  });
  it('counts lines the same with CRLF line ends', () => {
    const crlf = scanPositions('[a]\r\nx = [\r\n  1,\r\n  2,\r\n]\r\ny = 1\r\n');
    assert.equal(crlf.get(['a', 'x', '1'])?.line, 4);
    assert.equal(crlf.get(['a', 'y'])?.line, 6);
  });
  it('falls back to the closest written parent', () => {
    assert.equal(index.nearest(['server', 'listener', 'web', 'upstream']).line, 10);
    assert.equal(index.nearest(['nothing']).line, 1);
  });
});

describe('durations', () => {
  for (const [text, ms] of [
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1d12h', 36 * 3_600_000],
    ['500ms', 500],
    ['1w', 7 * 86_400_000],
    [' 1h 30m ', 90 * 60_000],
  ] as const) {
    it(`${JSON.stringify(text)} = ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }
  for (const bad of ['', '30', 'd', '1.5d', '30 days', '-1d', '1y']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseDuration(bad), undefined));
  }
  it('formats', () => {
    assert.equal(formatDuration(36 * 3_600_000), '1d12h');
    assert.equal(formatDuration(1500), '1s500ms');
  });
});

describe('addresses', () => {
  it('parses bind addresses (IP only)', () => {
    assert.deepEqual(parseBindAddress('[::]:465'), { ok: true, value: { host: '::', port: 465 } });
    assert.deepEqual(parseBindAddress('0.0.0.0:443'), { ok: true, value: { host: '0.0.0.0', port: 443 } });
    for (const bad of [
      '[::]',
      ':443',
      'host:443',
      '[1.2.3.4]:1',
      '::1:80',
      '0.0.0.0:0',
      '0.0.0.0:65536',
      '1.2.3.4:x',
    ]) {
      assert.equal(parseBindAddress(bad).ok, false, bad);
    }
  });
  it('parses targets (IP or host name)', () => {
    assert.deepEqual(parseHostPort('Backend.internal:8080'), {
      ok: true,
      value: { host: 'backend.internal', port: 8080 },
    });
    assert.equal(parseHostPort('bad_host:80').ok, false);
  });
  it('tells colliding binds', () => {
    const a = (host: string, port = 443) => ({ host, port });
    assert.ok(bindConflict(a('::'), a('0.0.0.0')));
    assert.ok(bindConflict(a('0.0.0.0'), a('127.0.0.1')));
    assert.ok(bindConflict(a('::1'), a('0:0:0:0:0:0:0:1')));
    assert.ok(!bindConflict(a('127.0.0.1'), a('127.0.0.2')));
    assert.ok(!bindConflict(a('::'), a('::', 80)));
    assert.ok(!bindConflict(a('0.0.0.0'), a('::1')));
  });
});

describe('suggestions and key paths', () => {
  it('edit distance', () => assert.equal(editDistance('kitten', 'sitting'), 3));
  it('suggests close words only', () => {
    assert.equal(closest('renew_before', ['renew-before', 'domains']), 'renew-before');
    assert.equal(closest('xyz', ['renew-before']), undefined);
  });
  it('formats and parses dotted keys', () => {
    assert.equal(formatKey(['acme', 'le.x', 'renew-before']), 'acme."le.x".renew-before');
    assert.deepEqual(parseKeyPath(`acme."le.x" . 'a b'.c`), ['acme', 'le.x', 'a b', 'c']);
    assert.equal(parseKeyPath('a..b'), undefined);
  });
});
