// TSIG (RFC 8945): HMAC signatures over DNS messages with a shared secret. A client signs its request and
// verifies the response's MAC, which covers the request MAC too, so an answer cannot be forged or
// replayed onto another request. Signing responses and verifying requests are here as well because they
// are the same computation, and tests use them to play the server side.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { RRClass, RRType } from './constants.js';
import { type DecodedMessage, encodeRecord, type TsigData } from './message.js';
import { canonicalName, DnsFormatError, sameName, WireWriter } from './wire.js';

export const TSIG_ALGORITHMS = {
  'hmac-md5': { wireName: 'hmac-md5.sig-alg.reg.int', hash: 'md5', size: 16 },
  'hmac-sha1': { wireName: 'hmac-sha1', hash: 'sha1', size: 20 },
  'hmac-sha224': { wireName: 'hmac-sha224', hash: 'sha224', size: 28 },
  'hmac-sha256': { wireName: 'hmac-sha256', hash: 'sha256', size: 32 },
  'hmac-sha384': { wireName: 'hmac-sha384', hash: 'sha384', size: 48 },
  'hmac-sha512': { wireName: 'hmac-sha512', hash: 'sha512', size: 64 },
} as const;

export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

/** TSIG error values (RFC 8945 section 3), carried in the TSIG record, not in the header's RCODE. */
export const TsigErrorCode = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export function tsigErrorName(error: number): string {
  const entry = Object.entries(TsigErrorCode).find(([, value]) => value === error);
  return entry ? entry[0] : `TSIG error ${error}`;
}

/** Accepts `hmac-sha256`, `HMAC-SHA256`, `hmac-sha256.` and the long MD5 name; TypeError otherwise. */
export function parseTsigAlgorithm(text: string): TsigAlgorithm {
  const wanted = canonicalName(text);
  for (const [name, info] of Object.entries(TSIG_ALGORITHMS)) {
    if (wanted === name || wanted === info.wireName) return name as TsigAlgorithm;
  }
  throw new TypeError(
    `unknown TSIG algorithm ${JSON.stringify(text)}; use one of ${Object.keys(TSIG_ALGORITHMS).join(', ')}`,
  );
}

/**
 * A named shared secret. The secret lives in a private field and is never printed: not by
 * `util.inspect`, not by JSON.stringify, not in any error message.
 */
export class TsigKey {
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly #secret: Buffer;

  constructor(name: string, algorithm: TsigAlgorithm | string, secretBase64: string) {
    this.name = canonicalName(name);
    this.algorithm = parseTsigAlgorithm(algorithm);
    const trimmed = secretBase64.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 === 1)
      throw new TypeError(`the TSIG secret for key ${JSON.stringify(this.name)} is not base64`);
    this.#secret = Buffer.from(trimmed, 'base64');
    if (this.name === '') throw new TypeError('a TSIG key needs a name');
  }

  /** The algorithm's name as written in the TSIG record. */
  get wireAlgorithm(): string {
    return TSIG_ALGORITHMS[this.algorithm].wireName;
  }

  mac(parts: readonly Uint8Array[]): Buffer {
    const hmac = createHmac(TSIG_ALGORITHMS[this.algorithm].hash, this.#secret);
    for (const part of parts) hmac.update(part);
    return hmac.digest();
  }

  toJSON(): object {
    return { name: this.name, algorithm: this.algorithm };
  }

  [inspect.custom](): string {
    return `TsigKey { name: '${this.name}', algorithm: '${this.algorithm}' }`;
  }
}

export interface SignOptions {
  /** Seconds since the epoch. */
  readonly timeSigned: number;
  /** Allowed clock difference in seconds (RFC 8945 recommends 300). */
  readonly fudge?: number;
  /** When signing a response: the MAC of the request it answers. */
  readonly requestMac?: Uint8Array;
  /** TSIG error to report (a server's BADTIME etc.); 0 for requests. */
  readonly error?: number;
  readonly other?: Uint8Array;
}

export interface Signed {
  readonly bytes: Buffer;
  /** The MAC, needed to verify the answer to a request. */
  readonly mac: Buffer;
}

/** Appends a TSIG record to an encoded message (which must not have one yet) and bumps ARCOUNT. */
export function signMessage(message: Uint8Array, key: TsigKey, options: SignOptions): Signed {
  const header = Buffer.from(message.subarray(0, 12));
  if (header.length < 12) throw new TypeError('signMessage: not a DNS message');
  const data: Omit<TsigData, 'mac'> = {
    kind: 'TSIG',
    algorithm: key.wireAlgorithm,
    timeSigned: options.timeSigned,
    fudge: options.fudge ?? 300,
    originalId: header.readUInt16BE(0),
    error: options.error ?? 0,
    other: Buffer.from(options.other ?? []),
  };
  const mac = key.mac([...requestMacPrefix(options.requestMac), message, tsigVariables(key.name, data)]);
  const writer = new WireWriter();
  writer.bytes(message);
  writer.setU16(10, header.readUInt16BE(10) + 1);
  encodeRecord(writer, {
    name: key.name,
    type: RRType.TSIG,
    class: RRClass.ANY,
    ttl: 0,
    data: { ...data, mac },
  });
  return { bytes: writer.finish(), mac };
}

/** Why a TSIG check failed; `error` is set when the other side reported a TSIG error. */
export class TsigVerificationError extends Error {
  override readonly name = 'TsigVerificationError';
  constructor(
    message: string,
    readonly error?: number,
  ) {
    super(message);
  }
}

export interface VerifyOptions {
  /** Our clock, seconds since the epoch. */
  readonly now: number;
  /** When verifying a response: the MAC of our request. */
  readonly requestMac?: Uint8Array;
}

/**
 * Checks the TSIG record of a decoded message against `key`: same key and algorithm, a full-length MAC
 * that matches, a signing time within the fudge, and no TSIG error. Returns the message's MAC (the next
 * message of a TCP stream would chain on it); throws TsigVerificationError otherwise.
 */
export function verifyMessage(
  bytes: Uint8Array,
  message: DecodedMessage,
  key: TsigKey,
  options: VerifyOptions,
): Buffer {
  const tsig = message.tsig;
  if (!tsig) throw new TsigVerificationError('the message is not signed (no TSIG record)');
  const { record, offset } = tsig;
  if (!sameName(record.name, key.name))
    throw new TsigVerificationError(`signed with key ${JSON.stringify(record.name)}, expected ${key.name}`);
  if (!sameName(record.data.algorithm, key.wireAlgorithm))
    throw new TsigVerificationError(`signed with ${record.data.algorithm}, expected ${key.wireAlgorithm}`);
  // BADSIG and BADKEY answers carry no MAC (RFC 8945 section 5.3.2): nothing to verify, but they are
  // failures anyway, so acting on them cannot be abused to make a rejected update look accepted.
  if (
    record.data.error === TsigErrorCode.BADSIG ||
    record.data.error === TsigErrorCode.BADKEY ||
    record.data.error === TsigErrorCode.BADTRUNC
  ) {
    throw new TsigVerificationError(
      `the peer reported ${tsigErrorName(record.data.error)}`,
      record.data.error,
    );
  }
  // Truncated MACs (RFC 8945 section 5.2.2.1) are not accepted: no server we target sends them.
  const expectedSize = TSIG_ALGORITHMS[key.algorithm].size;
  if (record.data.mac.length !== expectedSize)
    throw new TsigVerificationError(`MAC of ${record.data.mac.length} bytes, expected ${expectedSize}`);

  const unsigned = Buffer.from(bytes.subarray(0, offset));
  if (unsigned.length < 12) throw new DnsFormatError('TSIG record inside the header');
  unsigned.writeUInt16BE(record.data.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = key.mac([
    ...requestMacPrefix(options.requestMac),
    unsigned,
    tsigVariables(key.name, record.data),
  ]);
  if (!timingSafeEqual(expected, record.data.mac))
    throw new TsigVerificationError('the MAC does not match (wrong secret, or the message was altered)');

  if (record.data.error === TsigErrorCode.BADTIME) {
    const serverTime = record.data.other.length === 6 ? record.data.other.readUIntBE(0, 6) : undefined;
    const skew =
      serverTime === undefined ? '' : ` (its clock differs from ours by ${serverTime - options.now} s)`;
    throw new TsigVerificationError(`the peer reported BADTIME${skew}`, TsigErrorCode.BADTIME);
  }
  if (record.data.error !== 0)
    throw new TsigVerificationError(
      `the peer reported ${tsigErrorName(record.data.error)}`,
      record.data.error,
    );
  if (Math.abs(options.now - record.data.timeSigned) > record.data.fudge) {
    throw new TsigVerificationError(
      `signed at ${record.data.timeSigned}, ${options.now - record.data.timeSigned} s from our clock ` +
        `(more than the fudge of ${record.data.fudge} s)`,
      TsigErrorCode.BADTIME,
    );
  }
  return record.data.mac;
}

/** A response's MAC covers the request MAC, preceded by its length (RFC 8945 section 4.3.1). */
function requestMacPrefix(requestMac: Uint8Array | undefined): Uint8Array[] {
  if (!requestMac) return [];
  const length = Buffer.alloc(2);
  length.writeUInt16BE(requestMac.length);
  return [length, requestMac];
}

/** The TSIG variables of RFC 8945 section 4.3.3: names in canonical (lowercase, uncompressed) form. */
function tsigVariables(keyName: string, data: Omit<TsigData, 'mac'>): Buffer {
  const writer = new WireWriter();
  writer.name(canonicalName(keyName), false);
  writer.u16(RRClass.ANY);
  writer.u32(0);
  writer.name(canonicalName(data.algorithm), false);
  writer.u48(data.timeSigned);
  writer.u16(data.fudge);
  writer.u16(data.error);
  writer.u16(data.other.length);
  writer.bytes(data.other);
  return writer.finish();
}
