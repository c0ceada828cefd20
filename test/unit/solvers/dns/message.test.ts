// Encoding and decoding DNS messages: byte-for-byte against messages kdig and knsupdate produced,
// decoding of knotd's answers, round trips of every record type we handle, and malformed input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Opcode,
  Rcode,
  RRClass,
  RRType,
  rcodeName,
  typeName,
} from '../../../../src/solvers/dns/constants.js';
import {
  type DnsMessage,
  decodeMessage,
  encodeMessage,
  newMessage,
  type ResourceRecord,
  txtStrings,
  txtValue,
} from '../../../../src/solvers/dns/message.js';
import { DnsFormatError } from '../../../../src/solvers/dns/wire.js';
import {
  KDIG_SIGNED_TXT_QUERY,
  KDIG_SOA_QUERY,
  KNOT_BADSIG_RESPONSE,
  KNOT_RESPONSE,
  KNSUPDATE_REQUEST,
} from './vectors.js';

const CHALLENGE = '_acme-challenge.example.test';

function txt(name: string, value: string, klass: number, ttl: number): ResourceRecord {
  return { name, type: RRType.TXT, class: klass, ttl, data: { kind: 'TXT', strings: [value] } };
}

/** The message bytes before the TSIG record, with ARCOUNT as it was before signing. */
function unsignedPart(bytes: Buffer): Buffer {
  const decoded = decodeMessage(bytes);
  assert.ok(decoded.tsig);
  const part = Buffer.from(bytes.subarray(0, decoded.tsig.offset));
  part.writeUInt16BE(part.readUInt16BE(10) - 1, 10);
  return part;
}

describe('encoding', () => {
  it('encodes a query exactly as kdig does', () => {
    const query = newMessage({
      id: 0xa6ca,
      rd: true,
      ad: true,
      questions: [{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }],
    });
    assert.deepEqual(encodeMessage(query), KDIG_SOA_QUERY);
  });

  it('encodes an RFC 2136 update (add class IN, delete-one class NONE TTL 0) exactly as knsupdate does', () => {
    const update = newMessage({
      id: 0x7cdd,
      opcode: Opcode.UPDATE,
      questions: [{ name: 'example.test.', type: RRType.SOA, class: RRClass.IN }],
      authorities: [
        txt(CHALLENGE, 'value-one', RRClass.IN, 60),
        txt(CHALLENGE, 'value-two', RRClass.NONE, 0),
      ],
    });
    assert.deepEqual(encodeMessage(update), unsignedPart(KNSUPDATE_REQUEST));
  });

  it('writes EDNS as an OPT record with our UDP payload size', () => {
    const bytes = encodeMessage(
      newMessage({
        id: 1,
        questions: [{ name: 'a.test', type: RRType.TXT, class: 1 }],
        edns: { udpSize: 1232 },
      }),
    );
    assert.equal(bytes.readUInt16BE(10), 1, 'ARCOUNT counts the OPT record');
    assert.equal(bytes.subarray(-11).toString('hex'), '00' + '0029' + '04d0' + '00000000' + '0000');
    assert.deepEqual(decodeMessage(bytes).edns, { udpSize: 1232 });
  });

  it('refuses TXT strings over 255 bytes and values of the wrong address family', () => {
    const long = { ...txt('a.test', 'x'.repeat(256), 1, 60) };
    assert.throws(() => encodeMessage(newMessage({ id: 1, answers: [long] })), /255 bytes/);
    const bad: ResourceRecord = {
      name: 'a.test',
      type: 1,
      class: 1,
      ttl: 1,
      data: { kind: 'A', address: '::1' },
    };
    assert.throws(() => encodeMessage(newMessage({ id: 1, answers: [bad] })), /not an IPv4 address/);
  });
});

describe('decoding', () => {
  it('decodes the update knsupdate sent, with its compressed names', () => {
    const message = decodeMessage(KNSUPDATE_REQUEST);
    assert.equal(message.opcode, Opcode.UPDATE);
    assert.deepEqual(message.questions, [{ name: 'example.test', type: RRType.SOA, class: RRClass.IN }]);
    assert.deepEqual(message.authorities, [
      txt(CHALLENGE, 'value-one', RRClass.IN, 60),
      txt(CHALLENGE, 'value-two', RRClass.NONE, 0),
    ]);
    assert.equal(message.tsig?.record.name, 'tlsward-key');
    assert.equal(message.tsig?.record.data.algorithm, 'hmac-sha256');
    assert.equal(message.tsig?.record.data.timeSigned, 0x6b12e096);
    assert.equal(message.tsig?.record.data.fudge, 300);
    assert.equal(message.tsig?.record.data.mac.length, 32);
    // The TSIG record: owner (13 bytes), type, class, TTL, RDLENGTH (10) and 61 bytes of RDATA.
    assert.equal(message.tsig?.offset, KNSUPDATE_REQUEST.length - 13 - 10 - 61);
  });

  it("decodes knotd's answers: a signed NOERROR and an unsigned-MAC BADSIG with RCODE NOTAUTH", () => {
    const ok = decodeMessage(KNOT_RESPONSE);
    assert.ok(ok.qr && ok.opcode === Opcode.UPDATE && ok.rcode === Rcode.NOERROR);
    assert.equal(ok.tsig?.record.data.originalId, 0x7cdd);
    const bad = decodeMessage(KNOT_BADSIG_RESPONSE);
    assert.equal(rcodeName(bad.rcode), 'NOTAUTH');
    assert.equal(bad.tsig?.record.data.error, 16);
    assert.equal(bad.tsig?.record.data.mac.length, 0);
  });

  it('decodes the question and flags of a kdig query', () => {
    const message = decodeMessage(KDIG_SIGNED_TXT_QUERY);
    assert.ok(message.rd && message.ad && !message.qr && !message.tc);
    assert.deepEqual(message.questions, [{ name: CHALLENGE, type: RRType.TXT, class: RRClass.IN }]);
  });

  it('round-trips every record type we handle, the TC bit and the extended RCODE', () => {
    const records: ResourceRecord[] = [
      { name: 'a.test', type: RRType.A, class: 1, ttl: 60, data: { kind: 'A', address: '192.0.2.1' } },
      {
        name: 'a.test',
        type: RRType.AAAA,
        class: 1,
        ttl: 60,
        data: { kind: 'AAAA', address: '2001:db8:0:0:0:0:0:1' },
      },
      { name: 'test', type: RRType.NS, class: 1, ttl: 60, data: { kind: 'NS', target: 'ns1.test' } },
      { name: 'b.test', type: RRType.CNAME, class: 1, ttl: 60, data: { kind: 'CNAME', target: 'a.test' } },
      {
        name: 'test',
        type: RRType.SOA,
        class: 1,
        ttl: 60,
        data: {
          kind: 'SOA',
          mname: 'ns1.test',
          rname: 'hostmaster.test',
          serial: 2 ** 32 - 1,
          refresh: 3600,
          retry: 600,
          expire: 86400,
          minimum: 60,
        },
      },
      {
        name: 'c.test',
        type: RRType.TXT,
        class: 1,
        ttl: 60,
        data: { kind: 'TXT', strings: ['one', '', 'thrée'] },
      },
      { name: 'd.test', type: 99, class: 1, ttl: 60, data: { kind: 'raw', bytes: Buffer.from([1, 2, 3]) } },
    ];
    const message: DnsMessage = newMessage({
      id: 0xffff,
      qr: true,
      aa: true,
      tc: true,
      ra: true,
      cd: true,
      rcode: Rcode.NXDOMAIN,
      questions: [{ name: 'a.test', type: RRType.ANY, class: RRClass.ANY }],
      answers: records.slice(0, 4),
      authorities: records.slice(4),
      additionals: [records[0]!],
    });
    const decoded = decodeMessage(encodeMessage(message));
    const { tsig: _none, ...plain } = decoded;
    assert.deepEqual(plain, message);
    assert.equal(txtValue(records[5]!), 'onethrée');
    assert.equal(typeName(RRType.TSIG), 'TSIG');
    assert.equal(typeName(64), 'TYPE64');

    // OPT's TTL carries the upper 8 bits of the RCODE (RFC 6891 section 6.1.3): 1 << 4 | 0 = BADVERS.
    const extended = Buffer.concat([
      encodeMessage(newMessage({ id: 1, qr: true })),
      Buffer.from('0000290200010000000000', 'hex'),
    ]);
    extended.writeUInt16BE(1, 10);
    assert.equal(decodeMessage(extended).rcode, Rcode.BADVERS);
  });

  it('splits long TXT values into 255-byte strings without cutting a UTF-8 character', () => {
    assert.deepEqual(
      txtStrings('x'.repeat(600)).map((s) => s.length),
      [255, 255, 90],
    );
    const parts = txtStrings(`${'x'.repeat(254)}é${'y'.repeat(10)}`);
    assert.deepEqual(parts, ['x'.repeat(254), `é${'y'.repeat(10)}`]);
    assert.deepEqual(txtStrings(''), ['']);
  });

  it('rejects malformed messages', () => {
    assert.throws(() => decodeMessage(Buffer.alloc(11)), DnsFormatError);
    assert.throws(
      () => decodeMessage(Buffer.concat([KDIG_SOA_QUERY, Buffer.from([0])])),
      /after the last record/,
    );
    const short = Buffer.from(KDIG_SOA_QUERY);
    short.writeUInt16BE(2, 4); // QDCOUNT 2 with one question
    assert.throws(() => decodeMessage(short), DnsFormatError);
    // An A record whose RDLENGTH says 5.
    const badA = Buffer.concat([
      encodeMessage(newMessage({ id: 1, qr: true })),
      Buffer.from('00 0001 0001 0000003c 0005 0102030405'.replace(/ /g, ''), 'hex'),
    ]);
    badA.writeUInt16BE(1, 6);
    assert.throws(() => decodeMessage(badA), /4 bytes/);
    // A record after the TSIG record.
    const afterTsig = Buffer.concat([KNOT_RESPONSE, Buffer.from('000001000100000000000401020304', 'hex')]);
    afterTsig.writeUInt16BE(2, 10);
    assert.throws(() => decodeMessage(afterTsig), /not the last record/);
  });
});
