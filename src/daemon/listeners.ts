// The daemon's listeners, one per `[server.listener."<id>"]`, on each of its bind addresses:
//   tcp-proxy  TLS terminated with the managed certificate chosen by SNI, plaintext relayed to `upstream`
//   acme       answers TLS-ALPN-01 itself, passes every other connection untouched to `passthrough`
//   http       answers HTTP-01 and redirects the rest to https
// Every TLS listener answers acme-tls/1 for pending challenges, whatever its port.
import type { AddressInfo, Socket } from 'node:net';
import tls, { type SecureContext } from 'node:tls';
import type { CertificateManager } from '../manager/certificate-manager.js';
import { type ClientHello, createSharedTlsListener } from '../server/alpn-tls-server.js';
import { createHttpChallengeServer } from '../server/http-challenge.js';
import type { Listenable } from '../server/listen.js';
import { relay } from '../server/relay.js';
import type { HttpChallenges } from '../solvers/http-01.js';
import type { TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import type { HostPort, ListenerConfig } from './config/model.js';
import type { Logger } from './logger.js';

export interface ListenerDependencies {
  readonly manager: CertificateManager;
  readonly tlsAlpn: TlsAlpnChallenges;
  readonly http: HttpChallenges;
  readonly logger: Logger;
  /** Manager id of a static certificate (`[certificate."<id>"]`). */
  readonly staticCertificateId: (id: string) => string;
}

export interface RunningListener {
  readonly id: string;
  readonly config: ListenerConfig;
  readonly addresses: readonly AddressInfo[];
  /** Stops accepting, lets open connections finish for up to `drainMs`, then cuts the rest. */
  close(drainMs: number): Promise<void>;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

type ServedListener = Extract<ListenerConfig, { served: true }>;

export async function startListener(
  config: ServedListener,
  deps: ListenerDependencies,
): Promise<RunningListener> {
  const connections = new Set<Socket>();
  const track = (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  };
  const log = deps.logger.child({ listener: config.id });
  const servers: Listenable[] = [];
  const addresses: AddressInfo[] = [];
  try {
    for (const bind of config.bind) {
      const server = createServer(config, deps, track, log);
      servers.push(server);
      addresses.push(await server.listen(bind.port, bind.host));
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()));
    throw new Error(
      `listener ${config.id}: cannot listen on ${describeBinds(config.bind)}: ${describe(error)}`,
    );
  }
  log.info({ addresses: addresses.map(formatAddress), protocol: config.protocol }, 'listening');
  return {
    id: config.id,
    config,
    addresses,
    async close(drainMs: number) {
      await Promise.all(servers.map((server) => server.close()));
      const deadline = Date.now() + drainMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const socket of connections) socket.destroy();
    },
  };
}

function createServer(
  config: ServedListener,
  deps: ListenerDependencies,
  track: (socket: Socket) => void,
  log: Logger,
): Listenable {
  const onEvent = (event: { type: string; domain?: string; reason?: string }) => {
    if (event.type === 'challenge-answered')
      log.info({ domain: event.domain }, 'answered a TLS-ALPN-01 challenge');
    else log.debug(event, 'connection event');
  };
  switch (config.protocol) {
    case 'http':
      return createHttpChallengeServer({
        challenges: deps.http,
        otherRequests: 'redirect',
        onEvent: (event) => {
          if (event.type === 'challenge-answered')
            log.info({ token: event.token }, 'answered an HTTP-01 challenge');
        },
      });
    case 'acme': {
      const passthrough = config.passthrough;
      return createSharedTlsListener({
        challenges: deps.tlsAlpn,
        onEvent,
        forward: (socket) => {
          track(socket);
          keepHalfOpen(socket);
          if (!passthrough) {
            socket.destroy();
            return;
          }
          relay(socket, passthrough, {
            onError: (error) => log.debug({ error: error.message }, 'passthrough ended'),
          });
        },
      });
    }
    case 'tcp-proxy': {
      const select = contextSelector(config, deps);
      return createSharedTlsListener({
        challenges: deps.tlsAlpn,
        onEvent,
        forward: (socket, hello) => {
          track(socket);
          keepHalfOpen(socket);
          terminate(socket, hello, select, log).then(
            (secure) => {
              if (!secure) return;
              relay(secure, config.upstream, {
                original: socket,
                ...(config.proxyProtocol ? { proxyProtocol: config.proxyProtocol } : {}),
                onError: (error) => log.debug({ error: error.message }, 'relay ended'),
              });
            },
            (error: unknown) => {
              log.warn({ error: describe(error), serverName: hello.serverName }, 'TLS handshake failed');
              socket.destroy();
            },
          );
        },
      });
    }
  }
}

/** Which certificate a listener presents for an SNI name (undefined: none, refuse the handshake). */
function contextSelector(config: ServedListener, deps: ListenerDependencies) {
  const fallback = config.sniFallback === 'default';
  const source = config.tls.certificate;
  if (!source)
    return (serverName: string | undefined) => deps.manager.secureContextFor(serverName, { fallback });
  const id = source.kind === 'acme' ? source.provider : deps.staticCertificateId(source.certificate);
  return (serverName: string | undefined) =>
    deps.manager.secureContextForCertificate(id, serverName, { fallback });
}

/** Completes the TLS handshake with the chosen certificate; undefined when there is none to present. */
async function terminate(
  socket: Socket,
  hello: ClientHello,
  select: (serverName: string | undefined) => Promise<SecureContext | undefined>,
  log: Logger,
): Promise<tls.TLSSocket | undefined> {
  const context = await select(hello.serverName);
  if (!context) {
    log.info({ serverName: hello.serverName ?? '(none)' }, 'no certificate for this name; handshake refused');
    socket.destroy();
    return undefined;
  }
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms`));
    }, HANDSHAKE_TIMEOUT_MS);
    secure.once('secure', () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // A client that goes away mid-handshake sends no error: without these the timer would hold shutdown.
    // With half-open sockets a FIN arrives as 'end' alone, so both are watched.
    const gone = () => {
      clearTimeout(timer);
      secure.destroy();
      reject(new Error('the client closed the connection during the TLS handshake'));
    };
    secure.once('end', gone);
    secure.once('close', gone);
    secure.once('secure', () => {
      secure.off('end', gone);
      secure.off('close', gone);
    });
  });
}

/**
 * A client that half-closes (sends its request, then FIN) must still get the backend's reply: without
 * this, Node ends our side of the socket as soon as the client's FIN arrives.
 */
function keepHalfOpen(socket: Socket): void {
  socket.allowHalfOpen = true;
}

function describeBinds(binds: readonly HostPort[]): string {
  return binds.map((bind) => formatAddress({ address: bind.host, port: bind.port })).join(', ');
}

function formatAddress(address: { address: string; port: number }): string {
  return address.address.includes(':')
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
