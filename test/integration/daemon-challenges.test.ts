// `tlsward serve` proving names with each challenge type against a real Pebble: TLS-ALPN-01 through an
// `acme` listener on Pebble's tls port that passes every other TLS connection, untouched, to a backend
// with its own certificate; HTTP-01 through an `http` listener (which also redirects and 404s) and
// through the on-demand responder opened only while an order is pending; DNS-01 with RFC 2136 + TSIG
// updates to a real Knot that Pebble's validator asks.
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { proxyListener } from './support/configs.js';
import { installed, peerCertificate, type RunningDaemon, startDaemon } from './support/daemon.js';
import { httpGet } from './support/http.js';
import { type RunningKnot, startKnot } from './support/knot.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import { canConnect, freePort, waitUntil } from './support/processes.js';
import { selfSignedCertificate } from './support/test-ca.js';

const scratch = await mkdtemp(join(tmpdir(), 'tlsward-daemon-challenges-'));
after(() => rm(scratch, { recursive: true, force: true }));

/** The certificates a provider's cache folder holds (every fullchain.pem, leaf first). */
async function cachedLeaves(cache: string): Promise<X509Certificate[]> {
  const files = await readdir(cache, { recursive: true, encoding: 'utf8' });
  return Promise.all(
    files
      .filter((file) => file.endsWith('fullchain.pem'))
      .map(async (file) => new X509Certificate(await readFile(join(cache, file)))),
  );
}

/** The provider section every test shares: Pebble's directory, trusted through its test CA. */
function provider(id: string, pebble: RunningPebble, lines: string): string {
  return `
[acme."${id}"]
directory = "${pebble.directoryUrl}"
ca-file = "${pebble.caFile}"
cache = "${join(scratch, id)}"
${lines}
`;
}

describe('acme listener: TLS-ALPN-01 answered, everything else passed through', () => {
  let pebble: RunningPebble;
  let backend: { port: number; fingerprint: string; connections: string[]; close(): Promise<void> };
  let daemon: RunningDaemon;
  let config: string;

  before(async () => {
    pebble = await startPebble();
    backend = await startPassthroughBackend();
    config = `${provider('first', pebble, `port = ${pebble.tlsPort}\ndomains = ["first.example.test"]`)}
[server.listener."acme"]
bind = ["127.0.0.1:${pebble.tlsPort}"]
protocol = "acme"
passthrough = "127.0.0.1:${backend.port}"
`;
    daemon = await startDaemon(config, { args: ['--cache', join(scratch, 'default-cache')] });
  });

  after(async () => {
    await daemon?.stop();
    await backend?.close();
    await pebble?.stop();
  });

  it("obtains a certificate over TLS-ALPN-01 answered by the listener on Pebble's tls port", async () => {
    await daemon.waitForLog(installed('first'));
    const answered = daemon
      .logs()
      .find((e) => e.msg === 'answered a TLS-ALPN-01 challenge' && e.domain === 'first.example.test');
    assert.equal(answered?.listener, 'acme', 'the acme listener answered the validation');
    assert.ok(
      !daemon.logs().some((e) => e.msg === 'challenge responder opened for a pending order'),
      'no on-demand responder: the listener binds the challenge port',
    );
    const [leaf, ...others] = await cachedLeaves(join(scratch, 'first'));
    assert.equal(others.length, 0);
    assert.equal(leaf?.subjectAltName, 'DNS:first.example.test');
    assert.match(leaf?.issuer ?? '', /Pebble Intermediate/);
  });

  it("passes a non-ACME TLS connection untouched: the client sees the backend's own certificate", async () => {
    const before = backend.connections.length;
    // Even for a name the daemon holds a certificate for: this listener never terminates TLS itself.
    const socket = await echoConnection(pebble.tlsPort, 'first.example.test');
    try {
      const cert = new X509Certificate(socket.getPeerCertificate().raw);
      assert.equal(cert.fingerprint256, backend.fingerprint, "the backend's self-signed certificate");
      assert.equal(socket.alpnProtocol, 'passthrough-test', 'ALPN negotiated by the backend');
      assert.equal(await echo(socket, 'hello through the acme listener'), 'hello through the acme listener');
      assert.deepEqual(backend.connections.slice(before), ['first.example.test'], 'the backend saw our SNI');
    } finally {
      socket.destroy();
    }
  });

  it("passes the client's half-close through, and the backend's answer after it still arrives", async () => {
    const socket = await echoConnection(pebble.tlsPort, 'first.example.test');
    const payload = randomBytes(1024 * 1024);
    const answer = new Promise<Buffer | Error>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => resolve(Buffer.concat(chunks)));
      socket.once('error', resolve);
    });
    // The backend echoes until it sees the end of the stream; most of the echo comes after our FIN.
    socket.end(payload);
    const received = await answer;
    socket.destroy();
    assert.ok(received instanceof Buffer, `the connection failed: ${String(received)}`);
    assert.equal(received.length, payload.length, 'echo length after the half-close');
    assert.ok(received.equals(payload), 'the echo arrived intact');
  });

  it('drops an acme-tls/1 ClientHello for a name with no pending challenge', async () => {
    const before = backend.connections.length;
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: pebble.tlsPort,
        servername: 'unknown.example.test',
        ALPNProtocols: ['acme-tls/1'],
        rejectUnauthorized: false,
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('handshake completed');
      });
      socket.once('error', (error) => resolve(`error: ${error.message}`));
      socket.once('close', () => resolve('closed'));
    });
    assert.notEqual(outcome, 'handshake completed');
    await daemon.waitForLog(
      (e) => e.type === 'challenge-unknown' && e.domain === 'unknown.example.test' && e.listener === 'acme',
    );
    assert.equal(backend.connections.length, before, 'not forwarded to the passthrough backend');
  });

  it('obtains another certificate through the listener while a passthrough connection stays open', async () => {
    const open = await echoConnection(pebble.tlsPort, 'busy.example.test');
    try {
      assert.equal(await echo(open, 'before'), 'before');
      const seen = daemon.logs().length;
      await daemon.reload(
        `${config}${provider('second', pebble, `port = ${pebble.tlsPort}\ndomains = ["second.example.test"]`)}`,
      );
      await daemon.waitForLog(installed('second'), 30_000, seen);
      await daemon.waitForLog(
        (e) =>
          e.msg === 'answered a TLS-ALPN-01 challenge' &&
          e.domain === 'second.example.test' &&
          e.listener === 'acme',
        1_000,
        seen,
      );
      assert.equal(await echo(open, 'after'), 'after', 'the open passthrough connection still works');
      const fresh = await echoConnection(pebble.tlsPort, 'second.example.test');
      const cert = new X509Certificate(fresh.getPeerCertificate().raw);
      assert.equal(await echo(fresh, 'fresh'), 'fresh');
      fresh.destroy();
      assert.equal(cert.fingerprint256, backend.fingerprint, 'new connections still pass through');
    } finally {
      open.destroy();
    }
  });
});

/** A TLS echo server with its own self-signed certificate (made with openssl) behind the acme listener. */
async function startPassthroughBackend() {
  const files = await selfSignedCertificate(await mkdtemp(join(scratch, 'passthrough-')), {
    commonName: 'passthrough backend',
    days: 1,
  });
  const certPem = await readFile(files.cert, 'utf8');
  const connections: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: await readFile(files.key),
      cert: certPem,
      ALPNProtocols: ['passthrough-test'],
      allowHalfOpen: true, // echoes to the end after the client's FIN
    },
    (socket) => {
      connections.push(String(socket.servername));
      socket.on('error', () => {});
      socket.pipe(socket);
    },
  );
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    fingerprint: new X509Certificate(certPem).fingerprint256,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function echoConnection(port: number, servername: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername,
      ALPNProtocols: ['passthrough-test'],
      rejectUnauthorized: false,
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no handshake within 10 s')));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (data: Buffer) => {
      received += data.toString();
      if (received.length >= text.length) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}

describe('HTTP-01 in the daemon', () => {
  let pebble: RunningPebble;
  before(async () => {
    pebble = await startPebble();
  });
  after(() => pebble?.stop());

  it("obtains a certificate through an http listener on Pebble's http port, which redirects the rest", async () => {
    const daemon = await startDaemon(
      `${provider('web', pebble, `challenge = "http-01"\nport = ${pebble.httpPort}\ndomains = ["web.example.test"]`)}
[server.listener."http"]
bind = ["127.0.0.1:${pebble.httpPort}"]
protocol = "http"
`,
      { args: ['--cache', join(scratch, 'default-cache')] },
    );
    try {
      await daemon.waitForLog(installed('web'));
      const answered = daemon.logs().find((e) => e.msg === 'answered an HTTP-01 challenge');
      assert.equal(answered?.listener, 'http', 'the http listener answered the validation');
      assert.ok(
        !daemon.logs().some((e) => e.msg === 'challenge responder opened for a pending order'),
        'no on-demand responder: the http listener serves the port',
      );
      const [leaf] = await cachedLeaves(join(scratch, 'web'));
      assert.equal(leaf?.subjectAltName, 'DNS:web.example.test');

      const base = `http://127.0.0.1:${pebble.httpPort}`;
      const headers = { Host: `web.example.test:${pebble.httpPort}` };
      const redirect = await httpGet(`${base}/mail/inbox?folder=1`, { headers });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.location, 'https://web.example.test/mail/inbox?folder=1');
      const unknown = await httpGet(`${base}/.well-known/acme-challenge/NoSuchToken_0123456789abcdef`, {
        headers,
      });
      assert.equal(unknown.status, 404);
    } finally {
      await daemon.stop();
    }
  });

  it('with no http listener, opens a responder on the port for the pending order and closes it after', async () => {
    assert.equal(await canConnect(pebble.httpPort), false, 'nothing listens on the port beforehand');
    const daemon = await startDaemon(
      provider(
        'ondemand',
        pebble,
        `challenge = "http-01"\nport = ${pebble.httpPort}\ndomains = ["ondemand.example.test"]`,
      ),
      { args: ['--cache', join(scratch, 'default-cache')] },
    );
    try {
      const opened = await daemon.waitForLog(
        (e) => e.msg === 'challenge responder opened for a pending order',
      );
      assert.equal(opened.port, pebble.httpPort);
      assert.equal(opened.type, 'http-01');
      await daemon.waitForLog(installed('ondemand'));
      const [leaf] = await cachedLeaves(join(scratch, 'ondemand'));
      assert.equal(leaf?.subjectAltName, 'DNS:ondemand.example.test');
      await waitUntil('the on-demand port to close', async () => !(await canConnect(pebble.httpPort)), {
        timeoutMs: 5_000,
      });
    } finally {
      await daemon.stop();
    }
  });
});

describe('DNS-01 in the daemon, against Knot with TSIG', () => {
  let knot: RunningKnot;
  let pebble: RunningPebble;
  before(async () => {
    knot = await startKnot();
    pebble = await startPebble({ dnsServer: knot.address });
  });
  after(async () => {
    await pebble?.stop();
    await knot?.stop();
  });

  it('obtains one certificate for a name and its wildcard, and removes the TXT records', async () => {
    const port = await freePort();
    const upstream = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    // `resolvers` (CNAME and zone lookups) and `nameservers` (where propagation is checked) point at Knot:
    // the system resolver cannot reach a server on a random loopback port, and the zone's NS record
    // (ns1.example.test) would be asked on port 53.
    const daemon = await startDaemon(
      `${provider(
        'dns',
        pebble,
        `challenge = "dns-01"
domains = ["example.test", "*.example.test"]
provider = "rfc2136-tsig"
host = "127.0.0.1"
port = ${knot.port}
key = "${knot.tsig.name}"
secret = "${knot.tsig.secret}"
tsig-algorithm = "${knot.tsig.algorithm}"
polling-interval = "200ms"
propagation-timeout = "20s"
resolvers = ["${knot.address}"]
nameservers = ["${knot.address}"]`,
      )}${proxyListener('https', port, (upstream.address() as net.AddressInfo).port)}`,
      { args: ['--cache', join(scratch, 'default-cache')] },
    );
    try {
      await daemon.waitForLog(installed('dns'), 40_000);
      for (const servername of ['example.test', 'anything.example.test']) {
        const cert = await peerCertificate(port, servername);
        assert.deepEqual(
          String(cert.subjectaltname).split(', ').sort(),
          ['DNS:*.example.test', 'DNS:example.test'],
          `served for ${servername}`,
        );
        assert.match(String(cert.issuer.CN), /Pebble Intermediate/);
      }
      await waitUntil(
        'the challenge TXT records to be removed',
        async () => (await knot.txt('_acme-challenge.example.test')).length === 0,
        { timeoutMs: 5_000 },
      );
    } finally {
      await daemon.stop();
      upstream.close();
    }
  });
});
