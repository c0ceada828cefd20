// Sending one DNS message to one server and getting its answer: UDP (resent on silence, switching to TCP
// when the answer is truncated) or TCP only, both bounded by a timeout and the caller's AbortSignal.
// It knows nothing of what is inside the message beyond the ID and the TC bit.
import dgram from 'node:dgram';
import net from 'node:net';
import { DnsError } from './errors.js';

export interface DnsServerAddress {
  readonly host: string;
  readonly port: number;
}

export type DnsProtocol = 'udp' | 'tcp';

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
export function parseServer(text: string, defaultPort = 53): DnsServerAddress {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) return checked(bracketed[1]!, bracketed[2] ? Number(bracketed[2]) : defaultPort, text);
  if (net.isIPv6(trimmed)) return checked(trimmed, defaultPort, text);
  const colon = trimmed.lastIndexOf(':');
  if (colon > 0) return checked(trimmed.slice(0, colon), Number(trimmed.slice(colon + 1)), text);
  return checked(trimmed, defaultPort, text);
}

function checked(host: string, port: number, text: string): DnsServerAddress {
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new TypeError(`invalid DNS server address ${JSON.stringify(text)}`);
  return { host, port };
}

export function formatServer(server: DnsServerAddress): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

export interface ExchangeOptions {
  /** 'udp': UDP, then TCP if the answer is truncated. 'tcp': TCP only. */
  readonly protocol: DnsProtocol;
  /** Time allowed for one UDP attempt, or for the whole TCP exchange. */
  readonly timeoutMs: number;
  /** UDP sends before giving up (datagrams get lost). Default 2. */
  readonly udpAttempts?: number;
}

export interface ExchangeResult {
  readonly bytes: Buffer;
  readonly protocol: DnsProtocol;
}

/** Sends `query` and resolves with the first reply carrying its ID. */
export async function exchange(
  server: DnsServerAddress,
  query: Uint8Array,
  options: ExchangeOptions,
  signal: AbortSignal,
): Promise<ExchangeResult> {
  signal.throwIfAborted();
  if (options.protocol === 'udp') {
    const bytes = await exchangeUdp(server, query, options, signal);
    // TC: the answer did not fit; RFC 7766 says to ask again over TCP.
    if ((bytes[2]! & 0x02) === 0) return { bytes, protocol: 'udp' };
  }
  return { bytes: await exchangeTcp(server, query, options.timeoutMs, signal), protocol: 'tcp' };
}

function networkError(server: DnsServerAddress, protocol: DnsProtocol, cause: unknown): DnsError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  const what = code === 'ECONNREFUSED' ? 'connection refused' : ((cause as Error)?.message ?? String(cause));
  return new DnsError('network', `DNS server ${formatServer(server)} (${protocol.toUpperCase()}): ${what}`, {
    server: formatServer(server),
    cause,
  });
}

function timeoutError(server: DnsServerAddress, protocol: DnsProtocol, ms: number): DnsError {
  return new DnsError(
    'timeout',
    `DNS server ${formatServer(server)} did not answer over ${protocol.toUpperCase()} within ${ms} ms`,
    {
      server: formatServer(server),
    },
  );
}

function idOf(message: Uint8Array): number {
  return (message[0]! << 8) | message[1]!;
}

function exchangeUdp(
  server: DnsServerAddress,
  query: Uint8Array,
  options: ExchangeOptions,
  signal: AbortSignal,
): Promise<Buffer> {
  const attempts = Math.max(1, options.udpAttempts ?? 2);
  const id = idOf(query);
  return new Promise<Buffer>((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (error: unknown, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('message');
      socket.on('error', () => {}); // a late ICMP error after close must not crash the process
      socket.close();
      if (reply) resolve(reply);
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    const send = () => {
      if (sent >= attempts) {
        finish(timeoutError(server, 'udp', options.timeoutMs * attempts));
        return;
      }
      sent++;
      socket.send(query, (error) => {
        if (error) finish(networkError(server, 'udp', error));
      });
      timer = setTimeout(send, options.timeoutMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // A connected socket only receives datagrams from the server, and gets ICMP errors as 'error'.
    socket.on('error', (error) => finish(networkError(server, 'udp', error)));
    socket.on('message', (message: Buffer) => {
      // Anything that is not an answer to this ID is ignored, as a resolver would: it may be a late
      // reply to an earlier attempt or a spoofing attempt.
      if (message.length >= 12 && idOf(message) === id && (message[2]! & 0x80) !== 0)
        finish(undefined, message);
    });
    socket.connect(server.port, server.host, send);
  });
}

function exchangeTcp(
  server: DnsServerAddress,
  query: Uint8Array,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(timeoutError(server, 'tcp', timeoutMs)), timeoutMs);
    let done = false;
    const finish = (error: unknown, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('data');
      socket.on('error', () => {});
      socket.destroy();
      if (reply) resolve(reply);
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error) => finish(networkError(server, 'tcp', error)));
    socket.on('close', () =>
      finish(networkError(server, 'tcp', new Error('connection closed before the answer'))),
    );
    socket.on('connect', () => {
      // RFC 1035 section 4.2.2: each message is preceded by its length in two bytes.
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const size = received.readUInt16BE(0);
      if (received.length < 2 + size) return;
      finish(undefined, received.subarray(2, 2 + size));
    });
  });
}
