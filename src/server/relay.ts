// Relaying a client connection to a backend: a TLS-terminated stream for `tcp-proxy` listeners, or the
// raw bytes for `acme` passthrough listeners. Both directions flow with back-pressure (pipe), half-close
// is passed on, and an error on either side closes both.
import net from 'node:net';
import { type ProxyProtocolVersion, proxyProtocolHeader } from './proxy-protocol.js';

export interface RelayTarget {
  readonly host: string;
  readonly port: number;
}

export interface RelayOptions {
  /** Write a PROXY protocol header first, so the backend sees the client's address. */
  readonly proxyProtocol?: ProxyProtocolVersion;
  /** Addresses of the original TCP connection (for a TLSSocket they are the same as its own). */
  readonly original?: net.Socket;
  /** How long connecting to the backend may take. */
  readonly connectTimeoutMs?: number;
  readonly onError?: (error: Error) => void;
}

/** Connects to `target` and pipes `client` through it until either side closes. */
export function relay(client: net.Socket, target: RelayTarget, options: RelayOptions = {}): net.Socket {
  const original = options.original ?? client;
  const upstream = net.connect({ host: target.host, port: target.port });
  upstream.setNoDelay(true);
  const connectTimer = setTimeout(
    () => upstream.destroy(new Error(`connecting to ${target.host}:${target.port} timed out`)),
    options.connectTimeoutMs ?? 10_000,
  );
  let reported = false;
  const fail = (error: Error) => {
    if (!reported) {
      reported = true;
      options.onError?.(error);
    }
    client.destroy();
    upstream.destroy();
  };
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    if (options.proxyProtocol) {
      upstream.write(
        proxyProtocolHeader(options.proxyProtocol, {
          sourceAddress: original.remoteAddress,
          sourcePort: original.remotePort,
          destinationAddress: original.localAddress,
          destinationPort: original.localPort,
        }),
      );
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on('error', (error) => fail(new Error(`backend ${target.host}:${target.port}: ${error.message}`)));
  client.on('error', (error) => fail(error));
  upstream.once('close', () => {
    clearTimeout(connectTimer);
    client.destroy();
  });
  client.once('close', () => upstream.destroy());
  return upstream;
}

/** Parses `host:port` / `[v6]:port` as the configuration writes them. */
export function parseHostPort(value: string): RelayTarget {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || !(port >= 1 && port <= 65535))
    throw new TypeError(`not a host:port address: ${JSON.stringify(value)}`);
  return { host: match[1] ?? match[2] ?? '', port };
}
