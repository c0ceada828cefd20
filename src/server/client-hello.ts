// Reads the TLS ClientHello from the first bytes of a connection, before any TLS library sees them, to
// learn the SNI name and the ALPN offer. The shared listener needs both to choose between answering an
// RFC 8737 acme-tls/1 challenge and handing the connection to the regular TLS server.
// Input is hostile: every length is checked against its container, nothing here throws, and the
// amount of data it will wait for is bounded.

export type ClientHelloResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'hello'; readonly serverName?: string; readonly alpnProtocols: string[] }
  | { readonly kind: 'invalid'; readonly reason: string };

export interface ClientHelloParseOptions {
  /**
   * The records carrying the hello (headers included) must fit in this many bytes from the start;
   * a hello that cannot is invalid as soon as that is known. Default MAX_CLIENT_HELLO_BYTES.
   */
  readonly maxBytes?: number;
}

/**
 * Default bound on the bytes buffered for one ClientHello. Real ones are 200 B to 2 KiB (post-quantum
 * key shares push them past 1.5 KiB); 32 KiB leaves room for large session tickets and PSK extensions.
 */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

const RECORD_HEADER = 5;
const RECORD_HANDSHAKE = 0x16;
const MAX_RECORD_PAYLOAD = 1 << 14; // RFC 8446 section 5.1
const HANDSHAKE_HEADER = 4;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const SNI_HOST_NAME = 0;
const MAX_HOST_NAME = 255;

const INCOMPLETE: ClientHelloResult = Object.freeze({ kind: 'incomplete' });

function invalid(reason: string): ClientHelloResult {
  return { kind: 'invalid', reason };
}

/** Parses the ClientHello at the start of `data`; bytes after it (early data, further records) are ignored. */
export function parseClientHello(data: Uint8Array, options: ClientHelloParseOptions = {}): ClientHelloResult {
  const maxBytes = options.maxBytes ?? MAX_CLIENT_HELLO_BYTES;
  const early = checkFirstBytes(data);
  if (early) return early;

  // Walk the record headers first without copying: a ClientHello may be split over several records, and
  // with data arriving in small pieces this check runs often, so it must stay cheap when incomplete.
  const fragments: Array<[start: number, end: number]> = [];
  let available = 0;
  let needed = -1; // handshake bytes in the whole message, known once its 4-byte header is in
  let offset = 0;
  while (needed < 0 || available < needed) {
    if (offset + RECORD_HEADER > data.length) {
      // The next record needs its header and at least one byte; if that cannot fit, stop waiting.
      return offset + RECORD_HEADER + 1 > maxBytes ? tooLong(maxBytes) : INCOMPLETE;
    }
    const type = data[offset]!;
    const length = readUint16(data, offset + 3);
    if (type !== RECORD_HANDSHAKE) return invalid(`record type ${type} before the ClientHello was complete`);
    if (data[offset + 1] !== 0x03) return invalid('record version is not TLS');
    if (length === 0) return invalid('empty handshake record');
    if (length > MAX_RECORD_PAYLOAD) return invalid(`record of ${length} bytes exceeds 2^14`);
    const start = offset + RECORD_HEADER;
    if (start + length > maxBytes) return tooLong(maxBytes);
    const end = Math.min(start + length, data.length);
    fragments.push([start, end]);
    available += end - start;
    if (needed < 0 && available >= HANDSHAKE_HEADER) {
      const header = gather(data, fragments, HANDSHAKE_HEADER);
      if (header[0] !== HANDSHAKE_CLIENT_HELLO)
        return invalid(`first handshake message is type ${header[0]}`);
      needed = HANDSHAKE_HEADER + ((header[1]! << 16) | (header[2]! << 8) | header[3]!);
      // Every record adds a header, so this is a lower bound on the bytes the hello takes.
      if (needed + RECORD_HEADER > maxBytes) return invalid(`ClientHello of ${needed} bytes is too long`);
    }
    if (end < start + length) {
      // The record is cut short: the message is complete only if what we have already covers it.
      if (needed >= 0 && available >= needed) break;
      return INCOMPLETE;
    }
    offset = start + length;
  }
  const message = gather(data, fragments, needed);
  return parseBody(message.subarray(HANDSHAKE_HEADER));
}

/** Rejects the obviously-not-TLS early, so garbage fails on its first byte rather than at the timeout. */
function checkFirstBytes(data: Uint8Array): ClientHelloResult | undefined {
  if (data.length === 0) return INCOMPLETE;
  const first = data[0]!;
  if (first & 0x80 && (data.length < 3 || data[2] === 0x01)) {
    return invalid('SSLv2-style ClientHello is not supported');
  }
  if (first !== RECORD_HANDSHAKE) return invalid(`not a TLS handshake record (first byte 0x${hex(first)})`);
  if (data.length >= 2 && data[1] !== 0x03) return invalid('record version is not TLS');
  return undefined;
}

function tooLong(maxBytes: number): ClientHelloResult {
  return invalid(`no complete ClientHello within ${maxBytes} bytes`);
}

/** Concatenates the first `count` handshake bytes from the record fragments. */
function gather(data: Uint8Array, fragments: ReadonlyArray<[number, number]>, count: number): Uint8Array {
  if (fragments.length === 1) return data.subarray(fragments[0]![0], fragments[0]![0] + count);
  const out = new Uint8Array(count);
  let filled = 0;
  for (const [start, end] of fragments) {
    const take = Math.min(end - start, count - filled);
    out.set(data.subarray(start, start + take), filled);
    filled += take;
    if (filled === count) break;
  }
  return out;
}

/** A bounds-checked cursor: every read either succeeds within the view or reports failure. */
class Reader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  uint8(): number | undefined {
    return this.remaining >= 1 ? this.bytes[this.pos++] : undefined;
  }
  uint16(): number | undefined {
    if (this.remaining < 2) return undefined;
    const value = readUint16(this.bytes, this.pos);
    this.pos += 2;
    return value;
  }
  take(count: number): Reader | undefined {
    if (this.remaining < count) return undefined;
    const sub = new Reader(this.bytes.subarray(this.pos, this.pos + count));
    this.pos += count;
    return sub;
  }
  /** A length-prefixed vector (1- or 2-byte prefix), as TLS's presentation language has them. */
  vector(prefixBytes: 1 | 2): Reader | undefined {
    const length = prefixBytes === 1 ? this.uint8() : this.uint16();
    return length === undefined ? undefined : this.take(length);
  }
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.pos);
    this.pos = this.bytes.length;
    return out;
  }
}

function parseBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  const version = r.uint16();
  if (version === undefined || version >> 8 !== 0x03) return invalid('ClientHello version is not TLS');
  if (!r.take(32)) return invalid('ClientHello too short for its random');
  const sessionId = r.vector(1);
  if (!sessionId || sessionId.remaining > 32) return invalid('bad session id');
  const suites = r.vector(2);
  if (!suites || suites.remaining < 2 || suites.remaining % 2 !== 0) return invalid('bad cipher suite list');
  const compression = r.vector(1);
  if (!compression || compression.remaining < 1) return invalid('bad compression method list');

  const hello: { serverName?: string; alpnProtocols: string[] } = { alpnProtocols: [] };
  if (r.remaining === 0) return { kind: 'hello', ...hello }; // no extensions at all (old clients)
  const extensions = r.vector(2);
  if (!extensions || r.remaining !== 0) return invalid('extensions do not fill the ClientHello exactly');

  let sawServerName = false;
  let sawAlpn = false;
  while (extensions.remaining > 0) {
    const type = extensions.uint16();
    const ext = extensions.vector(2);
    if (type === undefined || !ext) return invalid('truncated extension');
    // RFC 8446 section 4.2 forbids repeats; for the two we act on, a repeat would also be ambiguous.
    // Repeats of other types are left for the TLS library to judge.
    if (type === EXT_SERVER_NAME) {
      if (sawServerName) return invalid('server_name extension appears twice');
      sawServerName = true;
      const name = parseServerName(ext);
      if (typeof name === 'object') return name;
      if (name !== undefined) hello.serverName = name;
    } else if (type === EXT_ALPN) {
      if (sawAlpn) return invalid('ALPN extension appears twice');
      sawAlpn = true;
      const protocols = parseAlpn(ext);
      if (!Array.isArray(protocols)) return protocols;
      hello.alpnProtocols = protocols;
    }
  }
  return { kind: 'hello', ...hello };
}

/** RFC 6066 section 3: a list of (name_type, name); we use the host_name, lowercased (undefined if none). */
function parseServerName(ext: Reader): string | undefined | ClientHelloResult {
  // An empty extension body is what a server sends back; in a ClientHello it carries no name.
  const list = ext.vector(2);
  if (!list || ext.remaining !== 0 || list.remaining === 0) return invalid('bad server_name extension');
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.uint8();
    const name = list.vector(2);
    if (nameType === undefined || !name) return invalid('truncated server_name entry');
    if (nameType !== SNI_HOST_NAME) continue; // unknown name types are skipped, as OpenSSL does
    if (hostName !== undefined) return invalid('more than one host_name in server_name');
    const bytes = name.rest();
    // 1..255 printable ASCII bytes (OpenSSL's own limit): no NUL tricks, no UTF-8 (SNI carries A-labels).
    if (bytes.length === 0 || bytes.length > MAX_HOST_NAME || bytes.some((b) => b < 0x21 || b > 0x7e)) {
      return invalid('server name is not 1 to 255 printable ASCII characters');
    }
    hostName = Buffer.from(bytes).toString('latin1').toLowerCase();
  }
  return hostName;
}

/** RFC 7301 section 3.1: a non-empty list of non-empty protocol names. */
function parseAlpn(ext: Reader): string[] | ClientHelloResult {
  const list = ext.vector(2);
  if (!list || ext.remaining !== 0 || list.remaining === 0) return invalid('bad ALPN extension');
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const name = list.vector(1);
    if (!name || name.remaining === 0) return invalid('bad ALPN protocol name');
    // latin1 keeps every byte as one code unit, so opaque names round-trip and never fail to decode.
    protocols.push(Buffer.from(name.rest()).toString('latin1'));
  }
  return protocols;
}

function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
