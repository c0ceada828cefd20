// Low-level DNS wire format (RFC 1035 section 3 and 4): a growable writer and a bounds-checked reader,
// domain names in presentation form (`\.`, `\\` and `\DDD` escapes) and on the wire, with name
// compression both ways. Everything above this file deals in strings; only this file counts bytes.

/** Thrown for bytes that are not a well-formed DNS message; callers add which server sent them. */
export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
}

const MAX_LABEL = 63;
const MAX_NAME = 255;
/** Compression pointers are 14 bits: a name written beyond this offset cannot be pointed at. */
const MAX_POINTER = 0x3fff;

/**
 * Splits a domain name in presentation form into its labels (raw bytes). A trailing dot is optional:
 * every name here is absolute. The root is `''` or `'.'`. Throws TypeError for an unusable name, as it
 * comes from configuration or a caller, never from the network.
 */
export function parseName(text: string): Buffer[] {
  if (text === '' || text === '.') return [];
  const labels: Buffer[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '.') {
      if (current.length === 0)
        throw new TypeError(`invalid domain name ${JSON.stringify(text)}: empty label`);
      labels.push(Buffer.from(current));
      current = [];
      continue;
    }
    if (ch === '\\') {
      const digits = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
        current.push(Number(digits));
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(...Buffer.from(text[++i]!, 'utf8'));
      } else {
        throw new TypeError(`invalid domain name ${JSON.stringify(text)}: dangling backslash`);
      }
      continue;
    }
    current.push(...Buffer.from(ch, 'utf8'));
  }
  if (current.length > 0) labels.push(Buffer.from(current));
  let wireLength = 1;
  for (const label of labels) {
    if (label.length > MAX_LABEL)
      throw new TypeError(`invalid domain name ${JSON.stringify(text)}: a label is longer than 63 bytes`);
    wireLength += label.length + 1;
  }
  if (wireLength > MAX_NAME)
    throw new TypeError(`invalid domain name ${JSON.stringify(text)}: longer than 255 bytes`);
  return labels;
}

/** Presentation form without the trailing dot (root: `''`), escaping what would be ambiguous. */
export function formatName(labels: readonly Uint8Array[]): string {
  return labels
    .map((label) =>
      Array.from(label, (byte) => {
        if (byte === 0x2e || byte === 0x5c) return `\\${String.fromCharCode(byte)}`;
        if (byte <= 0x20 || byte >= 0x7f) return `\\${String(byte).padStart(3, '0')}`;
        return String.fromCharCode(byte);
      }).join(''),
    )
    .join('.');
}

/** The form names are compared and stored in: lowercase ASCII, no trailing dot (DNS is case-insensitive). */
export function canonicalName(name: string): string {
  return formatName(parseName(name).map(lowerLabel));
}

export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/** True when `name` is `ancestor` or below it. */
export function isSubdomain(name: string, ancestor: string): boolean {
  const n = canonicalName(name);
  const a = canonicalName(ancestor);
  return a === '' || n === a || n.endsWith(`.${a}`);
}

/** The name one label up (`a.b.c` -> `b.c`); undefined for the root. */
export function parentName(name: string): string | undefined {
  const labels = parseName(name);
  if (labels.length === 0) return undefined;
  return formatName(labels.slice(1));
}

function lowerLabel(label: Uint8Array): Buffer {
  // Only ASCII letters fold (RFC 4343); other bytes stay as they are.
  return Buffer.from(label.map((byte) => (byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte)));
}

/** Appends big-endian integers, bytes and names to a buffer that grows as needed. */
export class WireWriter {
  #buffer = Buffer.alloc(512);
  #length = 0;
  /** Canonical suffix -> offset of a name already written, for compression; absent when disabled. */
  readonly #names: Map<string, number> | undefined;

  constructor(options: { compress?: boolean } = {}) {
    this.#names = options.compress ? new Map() : undefined;
  }

  get length(): number {
    return this.#length;
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const next = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(next, 0, 0, this.#length);
    this.#buffer = next;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buffer.writeUInt8(value, this.#length);
    this.#length += 1;
  }

  u16(value: number): void {
    this.#reserve(2);
    this.#buffer.writeUInt16BE(value, this.#length);
    this.#length += 2;
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#buffer.writeUInt32BE(value >>> 0, this.#length);
    this.#length += 4;
  }

  /** 48-bit unsigned (TSIG's Time Signed). */
  u48(value: number): void {
    this.u16(Math.floor(value / 2 ** 32) & 0xffff);
    this.u32(value % 2 ** 32);
  }

  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
  }

  /** Overwrites a 16-bit value already written (RDLENGTH once the RDATA is known). */
  setU16(offset: number, value: number): void {
    this.#buffer.writeUInt16BE(value, offset);
  }

  /**
   * Writes a name, pointing at an earlier copy of its longest known suffix when compression is on and
   * `compress` is not false. Names in TSIG and in RDATA of newer types must never be compressed.
   */
  name(name: string | readonly Uint8Array[], compress = true): void {
    const labels = typeof name === 'string' ? parseName(name) : name;
    const names = compress ? this.#names : undefined;
    for (let i = 0; i < labels.length; i++) {
      const suffix = names ? formatName(labels.slice(i).map(lowerLabel)) : '';
      const known = names?.get(suffix);
      if (known !== undefined) {
        this.u16(0xc000 | known);
        return;
      }
      if (names && this.#length <= MAX_POINTER) names.set(suffix, this.#length);
      const label = labels[i]!;
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  finish(): Buffer {
    return Buffer.from(this.#buffer.subarray(0, this.#length));
  }
}

/** Reads from a whole message, so that compression pointers anywhere in it can be followed. */
export class WireReader {
  readonly message: Buffer;
  offset: number;

  constructor(message: Uint8Array, offset = 0) {
    this.message = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    this.offset = offset;
  }

  #need(bytes: number): void {
    if (this.offset + bytes > this.message.length)
      throw new DnsFormatError(`message truncated at byte ${this.offset} (needed ${bytes} more)`);
  }

  get remaining(): number {
    return this.message.length - this.offset;
  }

  u8(): number {
    this.#need(1);
    return this.message.readUInt8(this.offset++);
  }

  u16(): number {
    this.#need(2);
    const value = this.message.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.message.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  u48(): number {
    const high = this.u16();
    return high * 2 ** 32 + this.u32();
  }

  bytes(length: number): Buffer {
    this.#need(length);
    const data = Buffer.from(this.message.subarray(this.offset, this.offset + length));
    this.offset += length;
    return data;
  }

  /** Reads a possibly compressed name; pointers must go backwards, which also rules out loops. */
  name(): string {
    const labels: Buffer[] = [];
    let position = this.offset;
    let resumeAt: number | undefined;
    let wireLength = 1;
    for (;;) {
      if (position >= this.message.length) throw new DnsFormatError(`name runs past the end at ${position}`);
      const length = this.message[position]!;
      if ((length & 0xc0) === 0xc0) {
        if (position + 1 >= this.message.length) throw new DnsFormatError('truncated compression pointer');
        const target = ((length & 0x3f) << 8) | this.message[position + 1]!;
        if (target >= position) throw new DnsFormatError(`compression pointer at ${position} points forward`);
        resumeAt ??= position + 2;
        position = target;
        continue;
      }
      if ((length & 0xc0) !== 0) throw new DnsFormatError(`unsupported label type at ${position}`);
      if (length === 0) {
        position += 1;
        break;
      }
      if (position + 1 + length > this.message.length) throw new DnsFormatError('label runs past the end');
      labels.push(Buffer.from(this.message.subarray(position + 1, position + 1 + length)));
      wireLength += length + 1;
      if (wireLength > MAX_NAME) throw new DnsFormatError('name longer than 255 bytes');
      position += length + 1;
    }
    this.offset = resumeAt ?? position;
    return formatName(labels);
  }
}
