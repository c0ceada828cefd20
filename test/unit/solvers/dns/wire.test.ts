// Domain names in presentation form and on the wire: escapes, case folding, limits, and compression
// pointers (RFC 1035 section 4.1.4), including the malformed ones a hostile answer could contain.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalName,
  DnsFormatError,
  formatName,
  isSubdomain,
  parentName,
  parseName,
  sameName,
  WireReader,
  WireWriter,
} from '../../../../src/solvers/dns/wire.js';

describe('domain names in presentation form', () => {
  it('splits labels, with or without the trailing dot, and knows the root', () => {
    assert.deepEqual(parseName('a.Example.test.').map(String), ['a', 'Example', 'test']);
    assert.deepEqual(parseName('a.Example.test').map(String), ['a', 'Example', 'test']);
    assert.deepEqual(parseName(''), []);
    assert.deepEqual(parseName('.'), []);
  });

  it('reads and writes escapes so that dots and odd bytes inside labels survive', () => {
    const labels = parseName('a\\.b.x\\032y\\\\.test');
    assert.deepEqual(
      labels.map((l) => l.toString('latin1')),
      ['a.b', 'x y\\', 'test'],
    );
    assert.equal(formatName(labels), 'a\\.b.x\\032y\\\\.test');
  });

  it('folds ASCII case only and compares names case-insensitively', () => {
    assert.equal(canonicalName('_ACME-Challenge.Example.TEST.'), '_acme-challenge.example.test');
    assert.ok(sameName('Example.Test', 'example.test.'));
    assert.ok(!sameName('example.test', 'example.tes'));
  });

  it('knows ancestors and parents', () => {
    assert.ok(isSubdomain('a.b.example.test', 'Example.Test'));
    assert.ok(isSubdomain('example.test', 'example.test.'));
    assert.ok(!isSubdomain('badexample.test', 'example.test'));
    assert.ok(isSubdomain('anything', ''));
    assert.equal(parentName('a.b.test'), 'b.test');
    assert.equal(parentName('test'), '');
    assert.equal(parentName(''), undefined);
  });

  it('rejects empty labels, labels over 63 bytes and names over 255 bytes', () => {
    assert.throws(() => parseName('a..b'), TypeError);
    assert.throws(() => parseName(`${'a'.repeat(64)}.test`), /longer than 63/);
    assert.doesNotThrow(() => parseName(`${'a'.repeat(63)}.test`));
    assert.throws(
      () => parseName(Array.from({ length: 5 }, () => 'b'.repeat(60)).join('.')),
      /longer than 255/,
    );
    assert.throws(() => parseName('trailing\\'), /dangling backslash/);
  });
});

describe('names on the wire', () => {
  it('follows the compression pointers of the RFC 1035 section 4.1.4 example', () => {
    const message = Buffer.alloc(64);
    Buffer.from('01460349534904415250410000', 'hex').copy(message, 20); // F.ISI.ARPA at 20
    Buffer.from('03464f4fc014', 'hex').copy(message, 40); // FOO + pointer to 20
    Buffer.from('c01a', 'hex').copy(message, 46); // pointer to ARPA at 26
    const reader = new WireReader(message, 40);
    assert.equal(reader.name(), 'FOO.F.ISI.ARPA');
    assert.equal(reader.offset, 46, 'after a pointer, reading resumes right behind it');
    assert.equal(reader.name(), 'ARPA');
    assert.equal(reader.offset, 48);
  });

  it('compresses repeated suffixes case-insensitively, and not when told not to', () => {
    const writer = new WireWriter({ compress: true });
    writer.name('example.test');
    writer.name('_acme-challenge.EXAMPLE.test');
    writer.name('_acme-challenge.example.test');
    writer.name('example.test', false);
    const bytes = writer.finish();
    const full = '076578616d706c6504746573740' + '0';
    assert.equal(bytes.toString('hex'), `${full}0f5f61636d652d6368616c6c656e6765c000c00e${full}`);
    const reader = new WireReader(bytes);
    // The suffix comes from the first copy written, so its case wins: DNS names compare case-insensitively.
    assert.deepEqual(
      [reader.name(), reader.name(), reader.name(), reader.name()],
      ['example.test', '_acme-challenge.example.test', '_acme-challenge.example.test', 'example.test'],
    );
  });

  it('rejects pointers that point forward or at themselves (loops), and names running off the end', () => {
    assert.throws(() => new WireReader(Buffer.from('c000', 'hex')).name(), DnsFormatError);
    assert.throws(() => new WireReader(Buffer.from('00c003c001', 'hex'), 1).name(), /points forward/);
    assert.throws(() => new WireReader(Buffer.from('0561626364', 'hex')).name(), DnsFormatError);
    assert.throws(() => new WireReader(Buffer.from('4100', 'hex')).name(), /unsupported label type/);
    assert.throws(() => new WireReader(Buffer.from('c0', 'hex')).name(), /truncated/);
  });

  it('reads and writes 48-bit times', () => {
    const writer = new WireWriter();
    writer.u48(0x6b12e08b);
    writer.u48(2 ** 40 + 5);
    const reader = new WireReader(writer.finish());
    assert.equal(reader.u48(), 0x6b12e08b);
    assert.equal(reader.u48(), 2 ** 40 + 5);
    assert.throws(() => reader.u16(), /truncated/);
  });
});
