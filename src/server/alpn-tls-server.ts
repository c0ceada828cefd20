// One TCP port for both RFC 8737 TLS-ALPN-01 answers and ordinary TLS traffic.
// Node chooses the certificate (SNICallback) before it learns the ALPN choice, so a normal tls.Server
// cannot serve the challenge certificate only to "acme-tls/1" clients. Instead this listener reads the
// ClientHello itself, decides, puts the bytes back (socket.unshift) and lets a TLS stack take over:
//   - ALPN offers acme-tls/1 and a challenge is pending for the SNI name: handshake with the challenge
//     certificate, then close (RFC 8737 section 3: nothing else happens on that connection);
//   - ALPN offers acme-tls/1 and nothing is pending: drop the connection, serve no certificate;
//   - anything else: hand the socket to the user's own tls.Server / https.Server, untouched.
import net from 'node:net';
import tls from 'node:tls';
import type { TlsAlpnChallengeLookup } from '../solvers/tls-alpn-01.js';
import { type ClientHelloResult, MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.js';
import { listenServer } from './listen.js';

export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

/** What the listener learnt from a ClientHello: the SNI name (lowercase) and the offered ALPN protocols. */
export type ClientHello = Extract<ClientHelloResult, { kind: 'hello' }>;

/** What happened on a connection, for logs and metrics. */
export type SharedTlsListenerEvent =
  | { readonly type: 'challenge-answered'; readonly domain: string; readonly remoteAddress?: string }
  /** acme-tls/1 was offered for a name with no pending challenge (or without SNI); dropped. */
  | { readonly type: 'challenge-unknown'; readonly domain?: string; readonly remoteAddress?: string }
  /** The acme-tls/1 handshake itself failed or timed out. */
  | {
      readonly type: 'challenge-failed';
      readonly domain: string;
      readonly reason: string;
      readonly remoteAddress?: string;
    }
  /** No usable ClientHello (malformed, too big, too slow, closed early), or nobody to hand it to. */
  | { readonly type: 'connection-rejected'; readonly reason: string; readonly remoteAddress?: string };

export interface SharedTlsListenerOptions {
  /** Where pending TLS-ALPN-01 answers are found, by SNI name. */
  readonly challenges: TlsAlpnChallengeLookup;
  /** Receives every connection that is not an acme-tls/1 one; without it such connections are dropped. */
  readonly tlsServer?: tls.Server;
  /**
   * Instead of `tlsServer`: takes every other connection as raw bytes (the ClientHello unshifted), for
   * a listener that passes traffic through untouched to another server.
   */
  readonly forward?: (socket: net.Socket, hello: ClientHello) => void;
  /** How long a client may take to send its whole ClientHello; default 10 s. */
  readonly helloTimeoutMs?: number;
  /** Most bytes buffered while waiting for the ClientHello; default MAX_CLIENT_HELLO_BYTES. */
  readonly maxHelloBytes?: number;
  /** How long an acme-tls/1 connection may live (handshake and close); default 10 s. */
  readonly challengeTimeoutMs?: number;
  /** Called for each outcome above; exceptions it throws are ignored so logging cannot break serving. */
  readonly onEvent?: (event: SharedTlsListenerEvent) => void;
}

export interface SharedTlsListener {
  /** The listening server; `listen()` below is a convenience, `server.listen(...)` works too. */
  readonly server: net.Server;
  /** Listens and resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host?: string): Promise<net.AddressInfo>;
  /**
   * Stops accepting, destroys connections still being read or answering a challenge, and resolves
   * once the listening socket is closed. Connections already handed to `tlsServer` belong to it and
   * are left alone; `server`'s own 'close' event waits for them to end.
   */
  close(): Promise<void>;
}

const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
const DEFAULT_CHALLENGE_TIMEOUT_MS = 10_000;

export function createSharedTlsListener(options: SharedTlsListenerOptions): SharedTlsListener {
  if (options.tlsServer && options.forward) throw new TypeError('give tlsServer or forward, not both');
  const helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const challengeTimeoutMs = options.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
  const maxHelloBytes = options.maxHelloBytes ?? MAX_CLIENT_HELLO_BYTES;
  /** Sockets this listener still owns (reading a hello or answering a challenge), for close(). */
  const owned = new Set<net.Socket>();
  let closing = false;

  const emit = (event: SharedTlsListenerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A failing logger must not take the listener down; there is nowhere better to report it.
    }
  };

  const server = net.createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    readHello(socket);
  });

  function readHello(socket: net.Socket): void {
    const remoteAddress = socket.remoteAddress;
    owned.add(socket);
    let buffer = Buffer.alloc(0);
    let length = 0;

    const detach = (): void => {
      clearTimeout(deadline);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      owned.delete(socket);
    };
    const reject = (reason: string): void => {
      detach();
      socket.on('error', ignore); // destroy() may still surface a write error
      socket.destroy();
      emit({ type: 'connection-rejected', reason, remoteAddress });
    };
    const onData = (chunk: Buffer): void => {
      // Grow by doubling, so a hello trickling in byte by byte is not copied over and over.
      if (length + chunk.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + chunk.length, 2048));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      chunk.copy(buffer, length);
      length += chunk.length;
      const bytes = buffer.subarray(0, length);
      const hello = parseClientHello(bytes, { maxBytes: maxHelloBytes });
      if (hello.kind === 'incomplete') return;
      if (hello.kind === 'invalid') {
        reject(hello.reason);
        return;
      }
      // Stop the flow before giving the bytes back, so the next owner reads them first.
      socket.pause();
      detach();
      socket.unshift(Buffer.from(bytes));
      route(socket, hello, remoteAddress);
    };
    const onEnd = (): void => reject('closed before a complete ClientHello');
    const onTimeout = (): void => reject(`no complete ClientHello within ${helloTimeoutMs} ms`);
    const onError = (error: Error): void => reject(error.message);
    const onClose = (): void => detach();

    // A deadline for the whole hello, not an idle timeout: a client trickling one byte at a time must
    // not hold a connection and its buffer for longer than this.
    const deadline = setTimeout(onTimeout, helloTimeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', onError);
  }

  function route(socket: net.Socket, hello: ClientHello, remoteAddress: string | undefined): void {
    // From here a TLSSocket owns the raw socket's handle; this guard only keeps an error on the bare
    // socket (one the new owner does not see) from becoming an uncaught exception.
    socket.on('error', ignore);
    if (hello.alpnProtocols.includes(ACME_TLS_ALPN_PROTOCOL)) {
      answerChallenge(socket, hello.serverName, remoteAddress);
      return;
    }
    if (options.forward) {
      options.forward(socket, hello);
      return;
    }
    if (!options.tlsServer) {
      socket.destroy();
      emit({ type: 'connection-rejected', reason: 'no TLS server for regular traffic', remoteAddress });
      return;
    }
    options.tlsServer.emit('connection', socket);
  }

  function answerChallenge(socket: net.Socket, domain: string | undefined, remoteAddress?: string): void {
    const context = domain === undefined ? undefined : options.challenges.get(domain);
    if (domain === undefined || context === undefined) {
      // RFC 8737 gives no fallback: with nothing pending, serving any certificate would only mislead.
      socket.destroy();
      emit({ type: 'challenge-unknown', domain, remoteAddress });
      return;
    }
    const tlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL],
    });
    owned.add(tlsSocket);
    let answered = false;
    let failure: string | undefined;
    // Again a deadline for the whole exchange rather than an idle timeout.
    const deadline = setTimeout(() => {
      failure ??= `not finished within ${challengeTimeoutMs} ms`;
      tlsSocket.destroy();
    }, challengeTimeoutMs);
    tlsSocket.once('secure', () => {
      answered = true;
      emit({ type: 'challenge-answered', domain, remoteAddress });
      // The validator has what it needs; close_notify and FIN, and read nothing more.
      tlsSocket.end();
    });
    tlsSocket.on('data', () => {}); // keep the stream flowing so the peer's close is seen
    tlsSocket.on('error', (error: Error) => {
      failure ??= error.message;
    });
    tlsSocket.once('close', () => {
      clearTimeout(deadline);
      owned.delete(tlsSocket);
      if (!answered) {
        emit({
          type: 'challenge-failed',
          domain,
          reason: failure ?? 'closed during handshake',
          remoteAddress,
        });
      }
    });
  }

  return {
    server,
    listen: (port: number, host?: string) => listenServer(server, port, host),
    async close(): Promise<void> {
      closing = true;
      for (const socket of owned) socket.destroy();
      owned.clear();
      if (!server.listening) return;
      // server.close()'s callback would also wait for connections handed to tlsServer; the listening
      // socket itself is closed once close() returns and the next turn of the event loop runs.
      server.close();
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

function ignore(): void {}
