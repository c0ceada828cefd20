// PROXY protocol headers (HAProxy's spec, versions 1 and 2) that tell a backend who the real client is
// when tlsward terminates TLS in front of it. We only write them; the backend parses.
import { isIPv4, isIPv6 } from 'node:net';

export type ProxyProtocolVersion = 'v1' | 'v2';

export interface ConnectionAddresses {
  readonly sourceAddress: string | undefined;
  readonly sourcePort: number | undefined;
  readonly destinationAddress: string | undefined;
  readonly destinationPort: number | undefined;
}

/** The v2 signature: \r\n\r\n\0\r\nQUIT\n. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export function proxyProtocolHeader(version: ProxyProtocolVersion, addresses: ConnectionAddresses): Buffer {
  return version === 'v1' ? headerV1(addresses) : headerV2(addresses);
}

/** Node reports IPv4 clients of a dual-stack socket as ::ffff:a.b.c.d; the header wants plain IPv4. */
function unmapped(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function family(source: string | undefined, destination: string | undefined): 4 | 6 | undefined {
  if (source && destination && isIPv4(source) && isIPv4(destination)) return 4;
  if (source && destination && isIPv6(source) && isIPv6(destination)) return 6;
  return undefined;
}

function headerV1(addresses: ConnectionAddresses): Buffer {
  const source = unmapped(addresses.sourceAddress);
  const destination = unmapped(addresses.destinationAddress);
  const fam = family(source, destination);
  if (!fam || addresses.sourcePort === undefined || addresses.destinationPort === undefined) {
    return Buffer.from('PROXY UNKNOWN\r\n');
  }
  return Buffer.from(
    `PROXY TCP${fam} ${source} ${destination} ${addresses.sourcePort} ${addresses.destinationPort}\r\n`,
  );
}

function headerV2(addresses: ConnectionAddresses): Buffer {
  const source = unmapped(addresses.sourceAddress);
  const destination = unmapped(addresses.destinationAddress);
  const fam = family(source, destination);
  if (
    !fam ||
    !source ||
    !destination ||
    addresses.sourcePort === undefined ||
    addresses.destinationPort === undefined
  ) {
    // LOCAL command, no address: the backend uses the connection's own addresses.
    return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  }
  const addressBytes = fam === 4 ? ipv4Bytes : ipv6Bytes;
  const body = Buffer.concat([
    addressBytes(source),
    addressBytes(destination),
    port(addresses.sourcePort),
    port(addresses.destinationPort),
  ]);
  // 0x21: version 2, PROXY command; 0x11: TCP over IPv4, 0x21: TCP over IPv6.
  const header = Buffer.from([0x21, fam === 4 ? 0x11 : 0x21, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([V2_SIGNATURE, header, body]);
}

function port(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  let text = address.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) has no place on the wire
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded?.[1]) {
    const v4 = ipv4Bytes(embedded[1]);
    text = `${text.slice(0, embedded.index)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const bytes = Buffer.alloc(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, index) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  });
  return bytes;
}
