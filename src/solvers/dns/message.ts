// DNS messages as DNS-01 needs them: queries (SOA, NS, TXT, CNAME, A, AAAA) and RFC 2136 UPDATE messages,
// encoded with name compression and decoded from whatever an authoritative server or resolver sends.
// Only the record types we read or write are given structure; the rest keep their raw RDATA.
import { isIP } from 'node:net';
import { Opcode, RRType, typeName } from './constants.js';
import { DnsFormatError, WireReader, WireWriter } from './wire.js';

export interface SoaData {
  readonly kind: 'SOA';
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

/** The TSIG RDATA (RFC 8945 section 4.2); see tsig.ts for what it means. */
export interface TsigData {
  readonly kind: 'TSIG';
  readonly algorithm: string;
  /** Seconds since the epoch (48 bits). */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
}

export type RecordData =
  | { readonly kind: 'A' | 'AAAA'; readonly address: string }
  | { readonly kind: 'NS' | 'CNAME'; readonly target: string }
  | { readonly kind: 'TXT'; readonly strings: readonly string[] }
  | SoaData
  | TsigData
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: RecordData;
}

/** A question; in an UPDATE message the single entry of the zone section (type SOA). */
export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** With EDNS, the full 12-bit RCODE (header bits plus the OPT record's extension). */
  readonly rcode: number;
  /** Question section; the zone section of an UPDATE. */
  readonly questions: readonly Question[];
  /** Answer section; the prerequisite section of an UPDATE. */
  readonly answers: readonly ResourceRecord[];
  /** Authority section; the update section of an UPDATE. */
  readonly authorities: readonly ResourceRecord[];
  /** Additional section without the OPT record (see `edns`); a TSIG record, if any, is last. */
  readonly additionals: readonly ResourceRecord[];
  /** EDNS (RFC 6891): present when the message has an OPT record. */
  readonly edns?: { readonly udpSize: number } | undefined;
}

/** A decoded message plus where its TSIG record starts, so tsig.ts can verify the bytes before it. */
export interface DecodedMessage extends DnsMessage {
  readonly tsig?: { readonly offset: number; readonly record: ResourceRecord & { data: TsigData } };
}

const HEADER_BYTES = 12;

export function encodeMessage(message: DnsMessage): Buffer {
  const writer = new WireWriter({ compress: true });
  writer.u16(message.id);
  writer.u16(
    (message.qr ? 0x8000 : 0) |
      ((message.opcode & 0xf) << 11) |
      (message.aa ? 0x0400 : 0) |
      (message.tc ? 0x0200 : 0) |
      (message.rd ? 0x0100 : 0) |
      (message.ra ? 0x0080 : 0) |
      (message.ad ? 0x0020 : 0) |
      (message.cd ? 0x0010 : 0) |
      (message.rcode & 0xf),
  );
  const additionalCount = message.additionals.length + (message.edns ? 1 : 0);
  for (const count of [
    message.questions.length,
    message.answers.length,
    message.authorities.length,
    additionalCount,
  ]) {
    writer.u16(count);
  }
  for (const question of message.questions) {
    writer.name(question.name);
    writer.u16(question.type);
    writer.u16(question.class);
  }
  for (const record of [...message.answers, ...message.authorities]) encodeRecord(writer, record);
  if (message.edns) {
    // OPT (RFC 6891): root owner, CLASS = our UDP payload size, TTL = extended RCODE and flags (all 0).
    writer.u8(0);
    writer.u16(RRType.OPT);
    writer.u16(message.edns.udpSize);
    writer.u32(0);
    writer.u16(0);
  }
  for (const record of message.additionals) encodeRecord(writer, record);
  return writer.finish();
}

/** Writes one resource record. Exported for tsig.ts, which appends its record to signed bytes. */
export function encodeRecord(writer: WireWriter, record: ResourceRecord): void {
  // TSIG owner and algorithm names are written uncompressed (RFC 8945 section 4.2).
  const compressible = record.type !== RRType.TSIG;
  writer.name(record.name, compressible);
  writer.u16(record.type);
  writer.u16(record.class);
  writer.u32(record.ttl);
  const lengthAt = writer.length;
  writer.u16(0);
  const start = writer.length;
  encodeData(writer, record.data);
  writer.setU16(lengthAt, writer.length - start);
}

function encodeData(writer: WireWriter, data: RecordData): void {
  switch (data.kind) {
    case 'A':
    case 'AAAA':
      writer.bytes(encodeAddress(data.address, data.kind));
      return;
    case 'NS':
    case 'CNAME':
      // Names inside RDATA are left uncompressed: always allowed, and simpler to reason about.
      writer.name(data.target, false);
      return;
    case 'TXT':
      for (const text of data.strings) {
        const bytes = Buffer.from(text, 'utf8');
        if (bytes.length > 255) throw new TypeError('a TXT character-string is limited to 255 bytes');
        writer.u8(bytes.length);
        writer.bytes(bytes);
      }
      return;
    case 'SOA':
      writer.name(data.mname, false);
      writer.name(data.rname, false);
      for (const value of [data.serial, data.refresh, data.retry, data.expire, data.minimum])
        writer.u32(value);
      return;
    case 'TSIG':
      writer.name(data.algorithm, false);
      writer.u48(data.timeSigned);
      writer.u16(data.fudge);
      writer.u16(data.mac.length);
      writer.bytes(data.mac);
      writer.u16(data.originalId);
      writer.u16(data.error);
      writer.u16(data.other.length);
      writer.bytes(data.other);
      return;
    case 'raw':
      writer.bytes(data.bytes);
      return;
  }
}

function encodeAddress(address: string, kind: 'A' | 'AAAA'): Buffer {
  if (kind === 'A' && isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  if (kind === 'AAAA' && isIP(address) === 6) {
    const [head = '', tail = ''] = address.split('::');
    const groups = (part: string) => (part === '' ? [] : part.split(':'));
    const left = groups(head);
    const right = address.includes('::') ? groups(tail) : [];
    const middle = new Array(8 - left.length - right.length).fill('0');
    const out = Buffer.alloc(16);
    [...left, ...middle, ...right].forEach((group, i) => {
      out.writeUInt16BE(Number.parseInt(group, 16), i * 2);
    });
    return out;
  }
  throw new TypeError(`${JSON.stringify(address)} is not an IPv${kind === 'A' ? 4 : 6} address`);
}

/** Decodes a whole message; throws DnsFormatError when the bytes are not one. */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  const reader = new WireReader(bytes);
  if (reader.remaining < HEADER_BYTES) throw new DnsFormatError('shorter than a DNS header');
  const id = reader.u16();
  const flags = reader.u16();
  const counts = [reader.u16(), reader.u16(), reader.u16(), reader.u16()] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    questions.push({ name: reader.name(), type: reader.u16(), class: reader.u16() });
  }
  const answers = decodeRecords(reader, counts[1]);
  const authorities = decodeRecords(reader, counts[2]);
  const additionals: ResourceRecord[] = [];
  let edns: { udpSize: number } | undefined;
  let extendedRcode = 0;
  let tsig: DecodedMessage['tsig'];
  for (let i = 0; i < counts[3]; i++) {
    const offset = reader.offset;
    const record = decodeRecord(reader);
    if (tsig) throw new DnsFormatError('the TSIG record is not the last record of the message');
    if (record.type === RRType.OPT) {
      edns = { udpSize: record.class };
      extendedRcode = record.ttl >>> 24;
      continue;
    }
    if (record.data.kind === 'TSIG') tsig = { offset, record: record as ResourceRecord & { data: TsigData } };
    additionals.push(record);
  }
  if (reader.remaining !== 0) throw new DnsFormatError(`${reader.remaining} bytes after the last record`);
  return {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: (extendedRcode << 4) | (flags & 0xf),
    questions,
    answers,
    authorities,
    additionals,
    ...(edns ? { edns } : {}),
    ...(tsig ? { tsig } : {}),
  };
}

function decodeRecords(reader: WireReader, count: number): ResourceRecord[] {
  const records: ResourceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const record = decodeRecord(reader);
    if (record.type === RRType.TSIG || record.type === RRType.OPT)
      throw new DnsFormatError(`${typeName(record.type)} record outside the additional section`);
    records.push(record);
  }
  return records;
}

function decodeRecord(reader: WireReader): ResourceRecord {
  const name = reader.name();
  const type = reader.u16();
  const klass = reader.u16();
  const ttl = reader.u32();
  const length = reader.u16();
  const end = reader.offset + length;
  if (end > reader.message.length) throw new DnsFormatError(`RDATA of ${name} runs past the end`);
  const data = decodeData(reader, type, length);
  if (reader.offset !== end) throw new DnsFormatError(`RDATA of ${name} ${typeName(type)} has a bad length`);
  return { name, type, class: klass, ttl, data };
}

function decodeData(reader: WireReader, type: number, length: number): RecordData {
  switch (type) {
    case RRType.A:
      if (length !== 4) throw new DnsFormatError('an A record must be 4 bytes');
      return { kind: 'A', address: [...reader.bytes(4)].join('.') };
    case RRType.AAAA: {
      if (length !== 16) throw new DnsFormatError('an AAAA record must be 16 bytes');
      const raw = reader.bytes(16);
      const groups = Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16));
      return { kind: 'AAAA', address: groups.join(':') };
    }
    case RRType.NS:
    case RRType.CNAME:
      return { kind: type === RRType.NS ? 'NS' : 'CNAME', target: reader.name() };
    case RRType.TXT: {
      const end = reader.offset + length;
      const strings: string[] = [];
      while (reader.offset < end) strings.push(reader.bytes(reader.u8()).toString('utf8'));
      return { kind: 'TXT', strings };
    }
    case RRType.SOA:
      return {
        kind: 'SOA',
        mname: reader.name(),
        rname: reader.name(),
        serial: reader.u32(),
        refresh: reader.u32(),
        retry: reader.u32(),
        expire: reader.u32(),
        minimum: reader.u32(),
      };
    case RRType.TSIG: {
      const algorithm = reader.name();
      const timeSigned = reader.u48();
      const fudge = reader.u16();
      const mac = reader.bytes(reader.u16());
      const originalId = reader.u16();
      const error = reader.u16();
      const other = reader.bytes(reader.u16());
      return { kind: 'TSIG', algorithm, timeSigned, fudge, mac, originalId, error, other };
    }
    default:
      return { kind: 'raw', bytes: reader.bytes(length) };
  }
}

/** A message with every field defaulted, for building queries and updates. */
export function newMessage(fields: Partial<DnsMessage> & { id: number }): DnsMessage {
  return {
    qr: false,
    opcode: Opcode.QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    ...fields,
  };
}

/** The strings of a TXT record joined, as a validator reads a value split into several strings. */
export function txtValue(record: ResourceRecord): string | undefined {
  return record.data.kind === 'TXT' ? record.data.strings.join('') : undefined;
}

/** Splits a TXT value into character-strings of at most 255 bytes, never inside a UTF-8 character. */
export function txtStrings(value: string): string[] {
  const strings: string[] = [];
  let current = '';
  let size = 0;
  for (const char of value) {
    const bytes = Buffer.byteLength(char, 'utf8');
    if (size + bytes > 255) {
      strings.push(current);
      current = '';
      size = 0;
    }
    current += char;
    size += bytes;
  }
  strings.push(current);
  return strings;
}
