// The shared listener end to end on loopback: a real openssl s_client and Node's TLS client against one
// port that answers RFC 8737 acme-tls/1 challenges and hands all other TLS to an ordinary tls.Server.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { createSharedTlsListener, type SharedTlsListenerEvent } from '../../src/server/alpn-tls-server.js';
import type { PendingChallenge } from '../../src/solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../../src/solvers/tls-alpn-01.js';

const DOMAIN = 'a.example.test';
const signal = AbortSignal.timeout(60_000);
const challengeFor = (domain: string): PendingChallenge => ({
  type: 'tls-alpn-01',
  domain,
  wildcard: false,
  token: `tok-${domain}`,
  keyAuthorization: `tok-${domain}.thumbprint-of-the-account-key`,
});
const acmeExtension = (keyAuthorization: string): Buffer =>
  Buffer.from(
    `06082b0601050507011f0101ff04220420${createHash('sha256').update(keyAuthorization).digest('hex')}`,
    'hex',
  );

/** Runs `openssl s_client` with stdin closed (it exits after the handshake) and returns all it printed. */
function sClient(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args]);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill(), 10_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
    child.stdin.end();
  });
}

interface ClientOutcome {
  readonly secure: boolean;
  readonly alpn?: string | false | null;
  readonly cert?: X509Certificate;
  readonly authorized?: boolean;
  readonly socket?: tls.TLSSocket;
}

/** Connects with Node's TLS client; resolves on the handshake or on the connection failing. */
function nodeClient(port: number, options: tls.ConnectionOptions): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: DOMAIN, ...options });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      resolve({
        secure: true,
        alpn: socket.alpnProtocol,
        cert: new X509Certificate(raw),
        authorized: socket.authorized,
        socket,
      });
    });
    socket.once('error', () => resolve({ secure: false }));
    socket.once('close', () => resolve({ secure: false }));
  });
}

/** A duplex for tls.connect({ socket }) that sends what TLS writes in 40-byte TCP segments, 2 ms apart. */
function tricklingConnection(port: number): Duplex {
  const raw = net.connect(port, '127.0.0.1');
  raw.setNoDelay(true);
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      void (async () => {
        for (let at = 0; at < chunk.length; at += 40) {
          raw.write(chunk.subarray(at, at + 40));
          await sleep(2);
        }
        callback();
      })();
    },
    final(callback) {
      raw.end();
      callback();
    },
    destroy(error, callback) {
      raw.destroy();
      callback(error);
    },
  });
  raw.on('data', (data: Buffer) => duplex.push(data));
  raw.on('end', () => duplex.push(null));
  raw.on('error', (error) => duplex.destroy(error));
  return duplex;
}

/** Opens a raw TCP connection, writes `bytes`, and resolves once the server has closed it. */
function rawExchange(port: number, bytes: Buffer, options: { end?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (options.end) socket.end();
    });
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(received)));
  });
}

describe('a port shared between TLS-ALPN-01 and regular TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsward-alpn-'));
  const events: SharedTlsListenerEvent[] = [];
  const challenges = new TlsAlpnChallenges();
  const solver = new TlsAlpn01Solver(challenges);
  const regularConnections = new Set<tls.TLSSocket>();
  let regularCertPem = '';
  let regularServer: tls.Server;
  let listener: ReturnType<typeof createSharedTlsListener>;
  let port = 0;

  before(async () => {
    // An ordinary self-signed certificate for the regular server, made by a tool other than ours.
    // biome-ignore format: flag and value kept together
    const args = [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', `/CN=${DOMAIN}`, '-addext', `subjectAltName=DNS:${DOMAIN}`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ];
    execFileSync('openssl', args, { stdio: 'ignore' });
    regularCertPem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    regularServer = tls.createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: regularCertPem, ALPNProtocols: ['http/1.1'] },
      (socket) => {
        regularConnections.add(socket);
        socket.on('close', () => regularConnections.delete(socket));
        socket.on('error', () => {});
        socket.pipe(socket); // echo: proves application data flows through the handed-over socket
      },
    );
    listener = createSharedTlsListener({
      challenges,
      tlsServer: regularServer,
      helloTimeoutMs: 500,
      onEvent: (event) => events.push(event),
    });
    ({ port } = await listener.listen(0, '127.0.0.1'));
    await solver.present(challengeFor(DOMAIN), signal);
  });

  after(async () => {
    for (const socket of regularConnections) socket.destroy();
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers openssl s_client offering acme-tls/1 with the challenge certificate and that protocol', async () => {
    const output = await sClient(port, ['-servername', DOMAIN, '-alpn', 'acme-tls/1', '-showcerts']);
    assert.match(output, /ALPN protocol: acme-tls\/1/);
    const pem = output.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
    assert.ok(pem, 'openssl printed the served certificate');
    const cert = new X509Certificate(pem);
    assert.equal(cert.subjectAltName, `DNS:${DOMAIN}`);
    assert.ok(cert.raw.includes(acmeExtension(challengeFor(DOMAIN).keyAuthorization)));
    assert.match(
      execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' }),
      /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/,
    );
    assert.ok(events.some((e) => e.type === 'challenge-answered' && e.domain === DOMAIN));
  });

  it('hands a client without ALPN to the regular server, which serves its own certificate and data', async () => {
    const outcome = await nodeClient(port, { ca: regularCertPem });
    assert.ok(outcome.secure && outcome.socket);
    assert.equal(outcome.authorized, true, 'the regular certificate verifies against its own CA');
    assert.equal(outcome.cert?.fingerprint256, new X509Certificate(regularCertPem).fingerprint256);
    outcome.socket.write('ping over the shared port');
    const [echo] = (await once(outcome.socket, 'data', { signal: AbortSignal.timeout(5000) })) as Buffer[];
    assert.equal(echo?.toString(), 'ping over the shared port');
    outcome.socket.destroy();
  });

  it('lets the regular server negotiate ordinary ALPN protocols such as http/1.1', async () => {
    const outcome = await nodeClient(port, { ca: regularCertPem, ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(outcome.alpn, 'http/1.1');
    outcome.socket?.destroy();
  });

  it('works the same in front of an https.Server choosing its certificate with SNICallback', async () => {
    const context = tls.createSecureContext({
      key: readFileSync(join(dir, 'key.pem')),
      cert: regularCertPem,
    });
    const httpsServer = https.createServer(
      { SNICallback: (_name, done) => done(null, context) },
      (_req, res) => {
        res.end('hello over https');
      },
    );
    const own = createSharedTlsListener({ challenges, tlsServer: httpsServer });
    const { port: ownPort } = await own.listen(0, '127.0.0.1');
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const agent = new https.Agent({ keepAlive: false });
        const options = { host: '127.0.0.1', port: ownPort, servername: DOMAIN, ca: regularCertPem, agent };
        https
          .get({ ...options, path: '/' }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.equal(body, 'hello over https');
      const challenge = await nodeClient(ownPort, {
        ALPNProtocols: ['acme-tls/1'],
        rejectUnauthorized: false,
      });
      assert.equal(challenge.alpn, 'acme-tls/1');
      challenge.socket?.destroy();
    } finally {
      httpsServer.closeAllConnections();
      await own.close();
    }
  });

  it('reassembles a ClientHello that arrives in many small TCP segments', async () => {
    const outcome = await nodeClient(port, {
      socket: tricklingConnection(port),
      ALPNProtocols: ['acme-tls/1'],
      rejectUnauthorized: false,
    });
    assert.equal(outcome.alpn, 'acme-tls/1');
    assert.equal(outcome.cert?.subjectAltName, `DNS:${DOMAIN}`);
    outcome.socket?.destroy();
  });

  it('answers challenges for several names at once, each with its own certificate', async () => {
    await solver.present(challengeFor('b.example.test'), signal);
    try {
      const outcomes = await Promise.all(
        ['a.example.test', 'b.example.test', 'a.example.test', 'b.example.test'].map((servername) =>
          nodeClient(port, { servername, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }),
        ),
      );
      for (const [i, outcome] of outcomes.entries()) {
        const domain = i % 2 === 0 ? 'a.example.test' : 'b.example.test';
        assert.equal(outcome.cert?.subjectAltName, `DNS:${domain}`);
        assert.ok(outcome.cert?.raw.includes(acmeExtension(challengeFor(domain).keyAuthorization)));
        outcome.socket?.destroy();
      }
    } finally {
      await solver.cleanup(challengeFor('b.example.test'), signal);
    }
  });

  it('closes an acme-tls/1 connection for a name with no pending challenge without serving a certificate', async () => {
    const outcome = await nodeClient(port, {
      servername: 'unknown.example.test',
      ALPNProtocols: ['acme-tls/1'],
      rejectUnauthorized: false,
    });
    assert.equal(outcome.secure, false);
    const output = await sClient(port, [
      '-servername',
      'unknown.example.test',
      '-alpn',
      'acme-tls/1',
      '-showcerts',
    ]);
    assert.match(output, /no peer certificate available/);
    assert.doesNotMatch(output, /BEGIN CERTIFICATE/);
    assert.ok(events.some((e) => e.type === 'challenge-unknown' && e.domain === 'unknown.example.test'));
  });

  it('serves nothing on acme-tls/1 once the challenge is cleaned up, while regular clients still work', async () => {
    await solver.cleanup(challengeFor(DOMAIN), signal);
    try {
      const output = await sClient(port, ['-servername', DOMAIN, '-alpn', 'acme-tls/1', '-showcerts']);
      assert.match(output, /no peer certificate available/);
      assert.doesNotMatch(output, /ALPN protocol: acme-tls\/1/);
      const regular = await nodeClient(port, { ca: regularCertPem });
      assert.equal(regular.authorized, true);
      regular.socket?.destroy();
    } finally {
      await solver.present(challengeFor(DOMAIN), signal);
    }
  });

  it('drops garbage, plain HTTP and SSLv2 hellos and keeps serving the next client', async () => {
    for (const bytes of [
      Buffer.from('GET / HTTP/1.1\r\nHost: a.example.test\r\n\r\n'),
      Buffer.from('802e0100020015000000100100800700c0030080060040', 'hex'),
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x02]),
    ]) {
      assert.equal((await rawExchange(port, bytes)).length, 0, 'nothing is sent back');
    }
    assert.ok(events.some((e) => e.type === 'connection-rejected'));
    const next = await nodeClient(port, {
      servername: DOMAIN,
      ALPNProtocols: ['acme-tls/1'],
      rejectUnauthorized: false,
    });
    assert.equal(next.alpn, 'acme-tls/1');
    next.socket?.destroy();
  });

  it('closes idle and half-sent connections after the hello timeout, and at once when the client gives up', async () => {
    const started = Date.now();
    const [idle, partial] = await Promise.all([
      rawExchange(port, Buffer.alloc(0)),
      rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01])),
    ]);
    assert.equal(idle.length + partial.length, 0);
    assert.ok(Date.now() - started >= 450, 'kept open until the timeout');
    const before = Date.now();
    await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]), { end: true });
    assert.ok(Date.now() - before < 450, 'closed on the client half-close, not at the timeout');
  });

  it('holds a client trickling its hello byte by byte no longer than the hello timeout in total', async () => {
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      // A plausible start of a large hello, one byte every 100 ms: each byte resets any idle timer.
      const bytes = [0x16, 0x03, 0x01, 0x10, 0x00, 0x01, 0x00, 0x0f, 0xfc, 0x03, 0x03, ...Array(40).fill(7)];
      const timer = setInterval(() => socket.write(Buffer.from([bytes.shift() ?? 7])), 100);
      socket.on('close', () => {
        clearInterval(timer);
        resolve(Date.now() - started);
      });
    });
    assert.ok(closed >= 450 && closed < 1500, `closed after ${closed} ms`);
  });

  it('stops accepting and drops connections still sending a hello when closed', async () => {
    const own = createSharedTlsListener({ challenges, tlsServer: regularServer });
    const { port: ownPort } = await own.listen(0, '127.0.0.1');
    const pending = rawExchange(ownPort, Buffer.from([0x16, 0x03]));
    await sleep(50);
    await own.close();
    await pending; // resolves only once the listener has closed the connection
    await assert.rejects(
      new Promise((resolve, reject) =>
        net.connect(ownPort, '127.0.0.1', () => resolve(undefined)).on('error', reject),
      ),
    );
  });
});
