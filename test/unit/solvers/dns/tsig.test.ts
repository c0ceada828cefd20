// TSIG (RFC 8945) against known answers: MACs that kdig, knsupdate and knotd computed must verify,
// re-signing knsupdate's message must give its exact bytes, and any change to a signed answer, a wrong
// key, a stale time or a missing signature must be rejected. The secret must never be printable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { decodeMessage, encodeMessage } from '../../../../src/solvers/dns/message.js';
import {
  parseTsigAlgorithm,
  signMessage,
  TSIG_ALGORITHMS,
  type TsigAlgorithm,
  TsigKey,
  TsigVerificationError,
  verifyMessage,
} from '../../../../src/solvers/dns/tsig.js';
import {
  KDIG_SIGNED_TXT_QUERY,
  KDIG_SOA_QUERY,
  KNOT_BADSIG_RESPONSE,
  KNOT_RESPONSE,
  KNSUPDATE_REQUEST,
  TEST_KEY,
} from './vectors.js';

const key = new TsigKey(TEST_KEY.name, TEST_KEY.algorithm, TEST_KEY.secret);
const UPDATE_TIME = 0x6b12e096;

function verify(bytes: Buffer, options: { now: number; requestMac?: Buffer }, withKey = key): Buffer {
  return verifyMessage(bytes, decodeMessage(bytes), withKey, options);
}

function rejects(fn: () => unknown, pattern: RegExp, error?: number): void {
  assert.throws(fn, (thrown: unknown) => {
    assert.ok(thrown instanceof TsigVerificationError, String(thrown));
    assert.match(thrown.message, pattern);
    assert.equal(thrown.error, error);
    return true;
  });
}

const requestMac = () => decodeMessage(KNSUPDATE_REQUEST).tsig!.record.data.mac;

describe('TSIG known answers from kdig, knsupdate and knotd', () => {
  it('verifies the MAC kdig put on a query', () => {
    const mac = verify(KDIG_SIGNED_TXT_QUERY, { now: 0x6b12e08b });
    assert.equal(mac.toString('hex').slice(0, 8), '82e678ff');
  });

  it('produces the same signed bytes as knsupdate for the same message, key and time', () => {
    const decoded = decodeMessage(KNSUPDATE_REQUEST);
    const unsigned = Buffer.from(KNSUPDATE_REQUEST.subarray(0, decoded.tsig!.offset));
    unsigned.writeUInt16BE(0, 10);
    const signed = signMessage(unsigned, key, { timeSigned: UPDATE_TIME });
    assert.deepEqual(signed.bytes, KNSUPDATE_REQUEST);
    assert.deepEqual(signed.mac, requestMac());
  });

  it("verifies knotd's signed answer, which covers our request MAC", () => {
    assert.doesNotThrow(() => verify(KNOT_RESPONSE, { now: UPDATE_TIME + 1, requestMac: requestMac() }));
  });

  it('rejects the answer when anything in it changed, or when it is checked against another request', () => {
    const flipped = Buffer.from(KNOT_RESPONSE);
    flipped[3] = 0x05; // NOERROR -> REFUSED
    rejects(() => verify(flipped, { now: UPDATE_TIME, requestMac: requestMac() }), /MAC does not match/);
    const badMac = Buffer.from(KNOT_RESPONSE);
    badMac[badMac.length - 10]! ^= 0x01;
    rejects(() => verify(badMac, { now: UPDATE_TIME, requestMac: requestMac() }), /MAC does not match/);
    const otherRequest = Buffer.from(requestMac());
    otherRequest[0]! ^= 0xff;
    rejects(
      () => verify(KNOT_RESPONSE, { now: UPDATE_TIME, requestMac: otherRequest }),
      /MAC does not match/,
    );
    rejects(() => verify(KNOT_RESPONSE, { now: UPDATE_TIME }), /MAC does not match/);
  });

  it("reports knotd's BADSIG answer, which carries no MAC, as BADSIG", () => {
    rejects(() => verify(KNOT_BADSIG_RESPONSE, { now: UPDATE_TIME, requestMac: requestMac() }), /BADSIG/, 16);
  });

  it('rejects a wrong secret, key name or algorithm', () => {
    const wrongSecret = new TsigKey(TEST_KEY.name, 'hmac-sha256', Buffer.from('other').toString('base64'));
    rejects(
      () => verify(KNOT_RESPONSE, { now: UPDATE_TIME, requestMac: requestMac() }, wrongSecret),
      /MAC does not match/,
    );
    const otherName = new TsigKey('other-key', 'hmac-sha256', TEST_KEY.secret);
    rejects(() => verify(KNOT_RESPONSE, { now: UPDATE_TIME }, otherName), /signed with key "tlsward-key"/);
    const otherAlgorithm = new TsigKey(TEST_KEY.name, 'hmac-sha512', TEST_KEY.secret);
    rejects(() => verify(KNOT_RESPONSE, { now: UPDATE_TIME }, otherAlgorithm), /signed with hmac-sha256/);
  });

  it('rejects a signature outside the fudge window, and an unsigned message', () => {
    rejects(
      () => verify(KNOT_RESPONSE, { now: UPDATE_TIME + 301, requestMac: requestMac() }),
      /more than the fudge of 300 s/,
      18,
    );
    assert.doesNotThrow(() => verify(KNOT_RESPONSE, { now: UPDATE_TIME - 300, requestMac: requestMac() }));
    rejects(() => verify(KDIG_SOA_QUERY, { now: UPDATE_TIME }), /not signed/);
  });
});

describe('TSIG signing and verification for every algorithm', () => {
  for (const algorithm of Object.keys(TSIG_ALGORITHMS) as TsigAlgorithm[]) {
    it(`${algorithm}: a signed request and its signed answer verify; a truncated MAC does not`, () => {
      const k = new TsigKey('k.example.', algorithm, Buffer.alloc(32, 7).toString('base64'));
      const request = signMessage(KDIG_SOA_QUERY, k, { timeSigned: 1_000_000 });
      assert.equal(request.mac.length, TSIG_ALGORITHMS[algorithm].size);
      assert.deepEqual(verify(request.bytes, { now: 1_000_010 }, k), request.mac);
      const answerBytes = Buffer.from(KDIG_SOA_QUERY);
      answerBytes[2]! |= 0x80;
      const answer = signMessage(answerBytes, k, { timeSigned: 1_000_001, requestMac: request.mac });
      assert.doesNotThrow(() => verify(answer.bytes, { now: 1_000_002, requestMac: request.mac }, k));

      // Cut the MAC to half its size (RFC 8945 allows truncation; we do not accept it).
      const decoded = decodeMessage(answer.bytes);
      const tsig = decoded.tsig!.record;
      const rest = encodeMessage({
        ...decoded,
        additionals: [
          { ...tsig, data: { ...tsig.data, mac: tsig.data.mac.subarray(0, request.mac.length / 2) } },
        ],
      });
      rejects(() => verify(rest, { now: 1_000_002, requestMac: request.mac }, k), /MAC of \d+ bytes/);
    });
  }

  it("reports a peer's signed BADTIME with its clock difference", () => {
    const request = signMessage(KDIG_SOA_QUERY, key, { timeSigned: 1_000_000 });
    const serverTime = Buffer.alloc(6);
    serverTime.writeUIntBE(1_000_900, 0, 6);
    const answer = signMessage(KDIG_SOA_QUERY, key, {
      timeSigned: 1_000_000,
      requestMac: request.mac,
      error: 18,
      other: serverTime,
    });
    rejects(() => verify(answer.bytes, { now: 1_000_000, requestMac: request.mac }), /BADTIME.*900 s/, 18);
  });
});

describe('TsigKey', () => {
  it('accepts the usual spellings of algorithm names', () => {
    assert.equal(parseTsigAlgorithm('HMAC-SHA256.'), 'hmac-sha256');
    assert.equal(parseTsigAlgorithm('hmac-md5.sig-alg.reg.int.'), 'hmac-md5');
    assert.equal(new TsigKey('Key.Name.', 'hmac-sha1', 'YQ==').name, 'key.name');
    assert.throws(() => parseTsigAlgorithm('hmac-sha3'), /unknown TSIG algorithm/);
  });

  it('rejects a secret that is not base64 without repeating it', () => {
    assert.throws(
      () => new TsigKey('k', 'hmac-sha256', 'not base64!'),
      (error: Error) => error instanceof TypeError && !error.message.includes('not base64!'),
    );
  });

  it('never shows the secret', () => {
    const secret = TEST_KEY.secret;
    const raw = Buffer.from(secret, 'base64').toString('latin1');
    for (const shown of [
      inspect(key, { showHidden: true, depth: 5 }),
      JSON.stringify(key),
      String(key),
      `${Object.values(key)}`,
    ]) {
      assert.ok(!shown.includes(secret) && !shown.includes(raw), shown);
    }
    assert.match(inspect(key), /tlsward-key.*hmac-sha256/);
  });
});
