// `tlsward serve` tcp-proxy listeners against a real Pebble and a plain TCP backend: bytes relayed both
// ways (1 MiB each way, and a reply sent only after the client's half-close), PROXY protocol v1 and v2
// headers parsed by the backend and naming the TLS client's real address and port, and `sni-fallback`
// ("refuse" fails the handshake for unknown or missing SNI, "default" serves the default certificate),
// and a prompt exit on SIGTERM after clients that left in the middle of the handshake.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { acmeProvider, proxyListener } from './support/configs.js';
import { installed, type RunningDaemon, startDaemon } from './support/daemon.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { freePort } from './support/processes.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-daemon-listeners-'));
after(() => rm(scratch, { recursive: true, force: true }));

const MIB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** What the backend does with each accepted connection; tests run one at a time and set it first. */
type Handler = (socket: net.Socket) => void;

interface Backend {
  readonly port: number;
  handle: Handler;
  close(): Promise<void>;
}

/** A plain TCP server standing in for the service behind the proxy; half-open, so it can reply after FIN. */
async function startBackend(): Promise<Backend> {
  const sockets = new Set<net.Socket>();
  const backend = {
    port: 0,
    handle: ((socket) => socket.destroy()) as Handler,
    close: async () => {},
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    backend.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as net.AddressInfo).port;
  backend.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return backend;
}

/** Reads a stream to its end. */
function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

type Handshake =
  | { readonly ok: true; readonly socket: tls.TLSSocket; readonly cert: tls.DetailedPeerCertificate }
  | { readonly ok: false; readonly error: string };

/** A TLS client to the daemon (no verification: Pebble's roots are not trusted here). */
function handshake(port: number, servername?: string): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername ? { servername } : {}),
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => socket.destroy(new Error('no handshake within 10 s')), 10_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ ok: true, socket, cert: socket.getPeerCertificate(true) });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: error.message });
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ ok: false, error: 'closed before the handshake' });
    });
  });
}

async function connected(port: number, servername = 'www.example.test'): Promise<tls.TLSSocket> {
  const result = await handshake(port, servername);
  assert.ok(result.ok, `TLS handshake with port ${port} failed: ${result.ok ? '' : result.error}`);
  return result.socket;
}

interface ProxyV2Header {
  readonly version: number;
  readonly command: number;
  readonly family: number;
  readonly transport: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** Header length in bytes; the client's data starts here. */
  readonly length: number;
}

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** HAProxy's PROXY protocol v2 (section 2.2), TCP over IPv4/IPv6; undefined until the header is complete. */
function parseProxyV2(data: Buffer): ProxyV2Header | undefined {
  if (data.length < 16) return undefined;
  assert.deepEqual(data.subarray(0, 12), V2_SIGNATURE, 'v2 signature');
  const length = 16 + data.readUInt16BE(14);
  if (data.length < length) return undefined;
  const family = data[13]! >> 4;
  const addressBytes = family === 1 ? 4 : family === 2 ? 16 : 0;
  assert.ok(addressBytes > 0, `unexpected address family ${family}`);
  const address = (offset: number) =>
    family === 1
      ? [...data.subarray(offset, offset + 4)].join('.')
      : (
          data
            .subarray(offset, offset + 16)
            .toString('hex')
            .match(/.{4}/g) ?? []
        ).join(':');
  const ports = 16 + 2 * addressBytes;
  assert.ok(length >= ports + 4, 'address block long enough for two addresses and two ports');
  return {
    version: data[12]! >> 4,
    command: data[12]! & 0x0f,
    family,
    transport: data[13]! & 0x0f,
    sourceAddress: address(16),
    destinationAddress: address(16 + addressBytes),
    sourcePort: data.readUInt16BE(ports),
    destinationPort: data.readUInt16BE(ports + 2),
    length,
  };
}

/**
 * Backend behaviour for the PROXY tests: buffers until `complete(data)` returns the header length and
 * the client's `ping` follows, answers `pong`, and hands the raw bytes to the test.
 */
function pingPong(complete: (data: Buffer) => number | undefined): {
  handler: Handler;
  received: Promise<Buffer>;
} {
  let deliver!: (data: Buffer) => void;
  const received = new Promise<Buffer>((resolve) => {
    deliver = resolve;
  });
  const handler: Handler = (socket) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const length = complete(data);
      if (length !== undefined && data.subarray(length).toString() === 'ping') {
        deliver(data);
        socket.end('pong');
      }
    });
  };
  return { handler, received };
}

describe('tcp-proxy listeners and sni-fallback', () => {
  let pebble: RunningPebble;
  let backend: Backend;
  let daemon: RunningDaemon;
  const port = { plain: 0, v1: 0, v2: 0, refuse: 0 };

  before(async () => {
    pebble = await startPebble();
    backend = await startBackend();
    for (const key of Object.keys(port) as (keyof typeof port)[]) {
      let candidate = await freePort();
      while (Object.values(port).includes(candidate)) candidate = await freePort();
      port[key] = candidate;
    }
    const listener = (id: string, listenPort: number, more = '') =>
      proxyListener(id, listenPort, backend.port, more);
    daemon = await startDaemon(
      `${acmeProvider('main', pebble, join(scratch, 'main'), ['www.example.test'], 'default = true')}
${acmeProvider('other', pebble, join(scratch, 'other'), ['other.example.test'])}
${listener('plain', port.plain)}
${listener('v1', port.v1, 'proxy-protocol = "v1"')}
${listener('v2', port.v2, 'proxy-protocol = "v2"')}
${listener('refuse', port.refuse, 'sni-fallback = "refuse"')}`,
      { args: ['--cache', join(scratch, 'default-cache')] },
    );
    await daemon.waitForLog(installed('main'));
    await daemon.waitForLog(installed('other'));
  });

  after(async () => {
    await daemon?.stop();
    await backend?.close();
    await pebble?.stop();
  });

  it('relays 1 MiB each way at the same time, intact', async () => {
    const up = randomBytes(MIB);
    const down = randomBytes(MIB);
    let backendGot!: (data: Buffer) => void;
    const atBackend = new Promise<Buffer>((resolve) => {
      backendGot = resolve;
    });
    backend.handle = (socket) => {
      const chunks: Buffer[] = [];
      let size = 0;
      socket.write(down);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MIB) {
          backendGot(Buffer.concat(chunks));
          socket.end();
        }
      });
    };
    const client = await connected(port.plain);
    const atClient = readAll(client);
    client.write(up);
    const [received, sent] = await Promise.all([atClient, atBackend]);
    client.destroy();
    assert.equal(sent.length, MIB);
    assert.equal(sha256(sent), sha256(up), 'the backend received exactly what the client sent');
    assert.equal(received.length, MIB);
    assert.equal(sha256(received), sha256(down), "the client received exactly the backend's reply");
  });

  it("passes the client's half-close on, and the backend's reply after it still arrives", async () => {
    const request = randomBytes(MIB);
    const reply = randomBytes(MIB);
    let backendGot!: (data: Buffer) => void;
    const atBackend = new Promise<Buffer>((resolve) => {
      backendGot = resolve;
    });
    backend.handle = (socket) => {
      // The reply goes out only once the backend has seen the end of the request (FIN).
      readAll(socket).then((data) => {
        backendGot(data);
        socket.end(reply);
      });
    };
    const client = await connected(port.plain);
    const atClient = readAll(client).catch((error: Error) => error);
    client.end(request);
    const sent = await atBackend;
    assert.equal(sha256(sent), sha256(request), 'the whole request, then end-of-stream, reached the backend');
    const received = await atClient;
    client.destroy();
    assert.ok(
      received instanceof Buffer,
      `the client lost the reply sent after its half-close: ${String(received)}`,
    );
    assert.equal(received.length, MIB, 'reply length');
    assert.equal(sha256(received), sha256(reply), 'the reply sent after the half-close arrived intact');
  });

  it("sends a PROXY v2 header naming the TLS client's address and port", async () => {
    const { handler, received } = pingPong((data) => parseProxyV2(data)?.length);
    backend.handle = handler;
    const client = await connected(port.v2);
    const answer = readAll(client);
    client.write('ping');
    const data = await received;
    assert.equal((await answer).toString(), 'pong');
    const header = parseProxyV2(data);
    assert.ok(header);
    assert.equal(header.version, 2);
    assert.equal(header.command, 1, 'PROXY command (not LOCAL)');
    assert.equal(header.family, 1, 'AF_INET');
    assert.equal(header.transport, 1, 'STREAM');
    assert.equal(header.length, 16 + 12, 'IPv4 address block: 12 bytes');
    assert.equal(header.sourceAddress, client.localAddress);
    assert.equal(header.sourcePort, client.localPort);
    assert.equal(header.destinationAddress, '127.0.0.1');
    assert.equal(header.destinationPort, port.v2);
    assert.equal(data.subarray(header.length).toString(), 'ping', 'the client data follows the header');
    client.destroy();
  });

  it("sends a PROXY v1 header naming the TLS client's address and port", async () => {
    const { handler, received } = pingPong((data) => {
      const end = data.indexOf('\r\n');
      return end === -1 ? undefined : end + 2;
    });
    backend.handle = handler;
    const client = await connected(port.v1);
    const answer = readAll(client);
    client.write('ping');
    const data = await received;
    assert.equal((await answer).toString(), 'pong');
    assert.equal(client.localAddress, '127.0.0.1');
    assert.equal(
      data.toString('latin1'),
      `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localPort} ${port.v1}\r\nping`,
    );
    client.destroy();
  });

  it('with sni-fallback = "refuse", fails the handshake for an unknown name and for no SNI', async () => {
    let reached = 0;
    backend.handle = (socket) => {
      reached++;
      socket.destroy();
    };
    const unknown = await handshake(port.refuse, 'unknown.example.test');
    assert.equal(unknown.ok, false, 'no certificate for an unknown name');
    await daemon.waitForLog(
      (e) =>
        e.msg === 'no certificate for this name; handshake refused' &&
        e.listener === 'refuse' &&
        e.serverName === 'unknown.example.test',
    );
    const none = await handshake(port.refuse);
    assert.equal(none.ok, false, 'no certificate without SNI');
    assert.equal(reached, 0, 'no refused client reached the backend');
    const known = await handshake(port.refuse, 'other.example.test');
    assert.ok(known.ok, 'a name with a certificate still works');
    assert.equal(known.cert.subjectaltname, 'DNS:other.example.test');
    known.socket.destroy();
  });

  it('with sni-fallback = "default", serves the default certificate for unknown names and no SNI', async () => {
    backend.handle = (socket) => socket.destroy();
    const results = {
      unknown: await handshake(port.plain, 'unknown.example.test'),
      none: await handshake(port.plain),
      own: await handshake(port.plain, 'other.example.test'),
    };
    for (const [what, result] of Object.entries(results)) {
      assert.ok(result.ok, `${what}: ${result.ok ? '' : result.error}`);
      result.socket.destroy();
    }
    assert.ok(results.unknown.ok && results.none.ok && results.own.ok);
    assert.equal(results.unknown.cert.subjectaltname, 'DNS:www.example.test');
    assert.equal(results.none.cert.subjectaltname, 'DNS:www.example.test');
    assert.equal(results.own.cert.subjectaltname, 'DNS:other.example.test', 'a known name gets its own');
    assert.match(String(results.unknown.cert.issuer.CN), /Pebble Intermediate/);
  });

  // Last: it stops the daemon. A TLS 1.3 client is done once it has sent its Finished; one that leaves
  // at once may close the connection before the daemon has read that Finished.
  it('stops promptly on SIGTERM after clients left right after their side of the handshake', async () => {
    backend.handle = (socket) => socket.destroy();
    for (let i = 0; i < 3; i++) (await connected(port.plain)).destroy();
    await sleep(300);
    const started = Date.now();
    assert.equal(await daemon.stop(), 0);
    const took = Date.now() - started;
    const timeouts = daemon.logs().filter((e) => /no TLS handshake within/.test(String(e.error)));
    assert.deepEqual(timeouts, [], 'a client that left is not reported as a handshake timeout');
    assert.ok(took < 5_000, `the daemon took ${took} ms to exit (--drain 2)`);
  });
});
