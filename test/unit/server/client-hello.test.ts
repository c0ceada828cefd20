// The ClientHello parser against real hellos captured from Node's TLS client and the openssl CLI, and
// against everything hostile: every truncation, multi-record splits, random and mutated bytes, SSLv2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import tls from 'node:tls';
import { type ClientHelloResult, parseClientHello } from '../../../src/server/client-hello.js';

/** Starts a raw TCP server, lets `connect` open a TLS client to it, and returns the first record. */
async function captureHello(connect: (port: number) => () => void): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  let stop = (): void => {};
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ClientHello captured')), 5000);
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          // Real clients send the hello as one record; its header says how long it is.
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
            clearTimeout(timer);
            socket.destroy();
            resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
          }
        });
      });
      stop = connect(port);
    });
  } finally {
    stop();
    server.close();
  }
}

function nodeClient(options: tls.ConnectionOptions): (port: number) => () => void {
  return (port) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.on('error', () => {});
    return () => socket.destroy();
  };
}

function opensslClient(args: string[]): (port: number) => () => void {
  return (port) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: 'pipe' });
    child.on('error', () => {});
    return () => child.kill();
  };
}

/** Re-frames a single-record hello into records carrying at most `size` handshake bytes each. */
function splitIntoRecords(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5);
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += size) {
    const fragment = handshake.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

const vec = (prefix: 1 | 2, body: Buffer): Buffer => {
  const head = Buffer.alloc(prefix);
  if (prefix === 1) head.writeUInt8(body.length);
  else head.writeUInt16BE(body.length);
  return Buffer.concat([head, body]);
};
const ext = (type: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([type >> 8, type & 0xff]), vec(2, body)]);
const sniExt = (...names: Buffer[]): Buffer =>
  ext(0, vec(2, Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), vec(2, n)])))));
const alpnExt = (...protocols: string[]): Buffer =>
  ext(16, vec(2, Buffer.concat(protocols.map((p) => vec(1, Buffer.from(p, 'latin1'))))));

/** A minimal, well-formed TLS 1.2 ClientHello record with the given extensions (none: no block at all). */
function buildHello(extensions?: Buffer[]): Buffer {
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7),
    vec(1, Buffer.alloc(0)),
    vec(2, Buffer.from([0xc0, 0x2f])),
    vec(1, Buffer.from([0])),
    extensions ? vec(2, Buffer.concat(extensions)) : Buffer.alloc(0),
  ]);
  const handshake = Buffer.concat([
    Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]),
    body,
  ]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), vec(2, handshake)]);
}

/** A small deterministic PRNG (mulberry32), so a failing fuzz case can be reproduced. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertWellFormedResult(result: ClientHelloResult): void {
  assert.ok(['incomplete', 'hello', 'invalid'].includes(result.kind));
}

describe('parsing a ClientHello', () => {
  const captured: Record<string, Buffer> = {};

  before(async () => {
    captured.nodeWithSniAndAlpn = await captureHello(
      nodeClient({ servername: 'Mixed.Example.TEST', ALPNProtocols: ['h2', 'http/1.1'] }),
    );
    // Node sends no SNI when connecting to an IP address without a servername.
    captured.nodeBare = await captureHello(nodeClient({ rejectUnauthorized: false }));
    captured.opensslAcme = await captureHello(
      opensslClient(['-servername', 'a.example.test', '-alpn', 'acme-tls/1']),
    );
    captured.opensslNoSni = await captureHello(opensslClient(['-noservername']));
    captured.openssl12 = await captureHello(opensslClient(['-tls1_2', '-servername', 'b.example.test']));
  });

  it('reads the SNI name (lowercased) and the ALPN list from a Node TLS client', () => {
    assert.deepEqual(parseClientHello(captured.nodeWithSniAndAlpn!), {
      kind: 'hello',
      serverName: 'mixed.example.test',
      alpnProtocols: ['h2', 'http/1.1'],
    });
  });

  it('reports no server name and no protocols when the client sends neither', () => {
    assert.deepEqual(parseClientHello(captured.nodeBare!), { kind: 'hello', alpnProtocols: [] });
    assert.deepEqual(parseClientHello(captured.opensslNoSni!), { kind: 'hello', alpnProtocols: [] });
  });

  it('reads the acme-tls/1 offer of openssl s_client, over TLS 1.3 and TLS 1.2', () => {
    assert.deepEqual(parseClientHello(captured.opensslAcme!), {
      kind: 'hello',
      serverName: 'a.example.test',
      alpnProtocols: ['acme-tls/1'],
    });
    assert.deepEqual(parseClientHello(captured.openssl12!), {
      kind: 'hello',
      serverName: 'b.example.test',
      alpnProtocols: [],
    });
  });

  it('asks for more bytes at every truncation of every captured hello', () => {
    for (const [name, hello] of Object.entries(captured)) {
      for (let length = 0; length < hello.length; length++) {
        assert.deepEqual(
          parseClientHello(hello.subarray(0, length)),
          { kind: 'incomplete' },
          `${name} at ${length}`,
        );
      }
    }
  });

  it('reassembles a hello split over many records, and waits at every truncation of the split form', () => {
    const expected = parseClientHello(captured.opensslAcme!);
    for (const size of [1, 3, 4, 7, 100]) {
      const split = splitIntoRecords(captured.opensslAcme!, size);
      assert.deepEqual(parseClientHello(split), expected, `records of ${size}`);
      if (size === 7) {
        for (let length = 0; length < split.length; length++) {
          assert.equal(parseClientHello(split.subarray(0, length)).kind, 'incomplete', `split at ${length}`);
        }
      }
    }
  });

  it('ignores whatever follows the hello, such as a ChangeCipherSpec record', () => {
    const withMore = Buffer.concat([
      captured.opensslAcme!,
      Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]),
    ]);
    assert.equal(parseClientHello(withMore).kind, 'hello');
  });

  it('accepts a hello without any extensions block, as very old clients send', () => {
    assert.deepEqual(parseClientHello(buildHello()), { kind: 'hello', alpnProtocols: [] });
  });

  it('reads synthetic SNI and ALPN exactly, skipping unknown extensions', () => {
    const hello = buildHello([
      ext(0xfafa, Buffer.alloc(0)),
      sniExt(Buffer.from('X.Test')),
      alpnExt('acme-tls/1'),
    ]);
    assert.deepEqual(parseClientHello(hello), {
      kind: 'hello',
      serverName: 'x.test',
      alpnProtocols: ['acme-tls/1'],
    });
  });

  it('rejects an SSLv2-style hello, plain HTTP, and non-handshake records', () => {
    const sslv2 = Buffer.from('802e0100020015000000100100800700c0030080060040', 'hex');
    assert.match(invalidReason(parseClientHello(sslv2)), /SSLv2/);
    assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'invalid');
    assert.equal(
      parseClientHello(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5])).kind,
      'invalid',
    );
    assert.equal(parseClientHello(Buffer.from([0x16, 0x02])).kind, 'invalid');
  });

  it('rejects broken framing: empty records, oversized records, and a first message that is not a ClientHello', () => {
    assert.equal(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])).kind, 'invalid');
    assert.equal(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])).kind, 'invalid');
    assert.equal(
      parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0])).kind,
      'invalid',
    );
    const alertAfterFirstRecord = Buffer.concat([
      splitIntoRecords(captured.opensslAcme!, 10).subarray(0, 15),
      Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
    ]);
    assert.equal(parseClientHello(alertAfterFirstRecord).kind, 'invalid');
  });

  it('gives up on a hello announced or buffered beyond the size bound instead of waiting for it', () => {
    // A handshake header claiming 1 MiB: refused at once, before any of it arrives.
    assert.equal(
      parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x10, 0x00, 0x00])).kind,
      'invalid',
    );
    // Split into 1-byte records (6 bytes each), the hello fits the bound as announced but not as sent.
    const hello = captured.opensslAcme!;
    assert.equal(parseClientHello(hello, { maxBytes: hello.length }).kind, 'hello');
    assert.equal(parseClientHello(hello, { maxBytes: hello.length - 1 }).kind, 'invalid');
    const maxBytes = 2 * hello.length;
    const big = splitIntoRecords(hello, 1);
    assert.equal(parseClientHello(big.subarray(0, hello.length), { maxBytes }).kind, 'incomplete');
    assert.equal(parseClientHello(big.subarray(0, maxBytes), { maxBytes }).kind, 'invalid');
    assert.equal(parseClientHello(big, { maxBytes }).kind, 'invalid');
  });

  it('rejects lengths that do not add up inside the hello', () => {
    const good = buildHello([sniExt(Buffer.from('x.test'))]);
    const badExtensionsLength = Buffer.from(good);
    // The extensions length sits right after the 1-byte compression list; make it one too long.
    const at = good.length - sniExt(Buffer.from('x.test')).length - 2;
    badExtensionsLength.writeUInt16BE(good.readUInt16BE(at) + 1, at);
    assert.equal(parseClientHello(badExtensionsLength).kind, 'invalid');
    assert.equal(parseClientHello(buildHello([ext(0, Buffer.from([0, 9, 0, 0, 3, 0x61]))])).kind, 'invalid');
    assert.equal(parseClientHello(buildHello([ext(16, Buffer.from([0, 1, 0]))])).kind, 'invalid');
  });

  it('rejects ambiguous or dangerous names: two host names, two SNI extensions, NUL bytes', () => {
    assert.equal(
      parseClientHello(buildHello([sniExt(Buffer.from('a.test'), Buffer.from('b.test'))])).kind,
      'invalid',
    );
    const twice = buildHello([sniExt(Buffer.from('a.test')), sniExt(Buffer.from('b.test'))]);
    assert.equal(parseClientHello(twice).kind, 'invalid');
    assert.equal(parseClientHello(buildHello([sniExt(Buffer.from('a.test\0.evil'))])).kind, 'invalid');
    assert.equal(parseClientHello(buildHello([alpnExt('h2'), alpnExt('acme-tls/1')])).kind, 'invalid');
  });

  it('never throws on random bytes, whether or not they start like a handshake record', () => {
    const random = prng(8737);
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.alloc(Math.floor(random() * 600), 0).map(() => Math.floor(random() * 256));
      if (i % 2 === 0 && bytes.length >= 2) {
        bytes[0] = 0x16;
        bytes[1] = 0x03;
      }
      assertWellFormedResult(parseClientHello(bytes));
    }
  });

  it('never throws on real hellos with bytes flipped, cut, or inserted', () => {
    const random = prng(6066);
    const seeds = Object.values(captured);
    for (let i = 0; i < 20_000; i++) {
      const hello = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) hello[Math.floor(random() * hello.length)] = Math.floor(random() * 256);
      const cut = hello.subarray(0, Math.floor(random() * (hello.length + 1)));
      assertWellFormedResult(parseClientHello(cut));
      assertWellFormedResult(parseClientHello(splitIntoRecords(hello, 1 + Math.floor(random() * 50))));
    }
  });
});

function invalidReason(result: ClientHelloResult): string {
  assert.equal(result.kind, 'invalid');
  return result.kind === 'invalid' ? result.reason : '';
}
