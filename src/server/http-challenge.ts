// Answers RFC 8555 section 8.3 HTTP-01 validation requests: GET /.well-known/acme-challenge/<token>.
// `createHttpChallengeHandler` is a plain (req, res, next?) function, so it works as an http.Server
// listener, as Express/Connect middleware, and from a Fastify route or hook (on request.raw/reply.raw).
// `createHttpChallengeServer` wraps it in an http.Server hardened for a port open to the Internet:
// bounded request time and header size, and request bodies never read.
import http from 'node:http';
import type net from 'node:net';
import { type HttpChallengeLookup, isValidHttpChallengeToken } from '../solvers/http-01.js';
import { listenServer } from './listen.js';

/** The path prefix validators request; exported so routers can dispatch on it without the handler. */
export const HTTP_CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';
const CHALLENGE_DIRECTORY = HTTP_CHALLENGE_PATH_PREFIX.slice(0, -1);

export type HttpChallengeEvent =
  | {
      readonly type: 'challenge-answered';
      readonly token: string;
      readonly host?: string;
      readonly remoteAddress?: string;
    }
  /** A challenge path with no pending answer; `token` is undefined when the path is not a valid token. */
  | {
      readonly type: 'challenge-unknown';
      readonly token?: string;
      readonly path: string;
      readonly remoteAddress?: string;
    }
  /** Answered with an error status: 405 method, 400 bad Host/target, 408 too slow, 431 headers too big. */
  | {
      readonly type: 'request-rejected';
      readonly status: number;
      readonly reason: string;
      readonly remoteAddress?: string;
    }
  /** The lookup threw or rejected (e.g. shared storage down); answered 500. */
  | { readonly type: 'lookup-failed'; readonly token: string; readonly error: unknown };

export type OtherRequests =
  | 'redirect'
  | 'not-found'
  | ((req: http.IncomingMessage, res: http.ServerResponse) => void);

export interface HttpChallengeHandlerOptions {
  /** Where pending answers are found, by token. */
  readonly challenges: HttpChallengeLookup;
  /**
   * What to do with requests outside /.well-known/acme-challenge/: 'redirect' to https://<host><path>
   * (301 for GET/HEAD, 308 otherwise, so the method is kept), 'not-found' (404), or your own listener.
   * Default: call `next()` when the handler is given one (middleware), else 'redirect'.
   */
  readonly otherRequests?: OtherRequests;
  /** Called for each outcome above; exceptions it throws are ignored so logging cannot break serving. */
  readonly onEvent?: (event: HttpChallengeEvent) => void;
}

export type HttpChallengeHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  next?: () => void,
) => void;

/** Host header: a DNS-ish name or a bracketed IPv6 literal, optional port. Nothing that could inject. */
const HOST_PATTERN = /^([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
/** An absolute-form request target (RFC 9112 section 3.2.2): scheme://authority, then the path. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/;
/** Visible ASCII only: what may go into a Location header unchanged. */
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

/** Reports an event; exceptions the listener throws are swallowed so logging cannot break serving. */
function eventEmitter(onEvent: ((event: HttpChallengeEvent) => void) | undefined) {
  return (event: HttpChallengeEvent): void => {
    try {
      onEvent?.(event);
    } catch {
      // There is nowhere better to report a failing logger.
    }
  };
}

export function createHttpChallengeHandler(options: HttpChallengeHandlerOptions): HttpChallengeHandler {
  const emit = eventEmitter(options.onEvent);

  function answerChallenge(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    const remoteAddress = req.socket.remoteAddress;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      emit({ type: 'request-rejected', status: 405, reason: `method ${req.method}`, remoteAddress });
      respond(req, res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    // No decoding and no normalization: a token is plain base64url, so exactly one segment of that
    // alphabet is accepted and "..", "%2e%2e", "%2f", empty or extra segments all fall through to 404.
    const token = path.slice(HTTP_CHALLENGE_PATH_PREFIX.length);
    if (!path.startsWith(HTTP_CHALLENGE_PATH_PREFIX) || !isValidHttpChallengeToken(token)) {
      emit({ type: 'challenge-unknown', path: path.slice(0, 200), remoteAddress });
      respond(req, res, 404, 'not found\n');
      return;
    }
    const finish = (keyAuthorization: string | undefined): void => {
      if (res.headersSent || res.destroyed) return; // the client went away while an async lookup ran
      if (keyAuthorization === undefined) {
        emit({ type: 'challenge-unknown', token, path: path.slice(0, 200), remoteAddress });
        respond(req, res, 404, 'not found\n');
        return;
      }
      emit({ type: 'challenge-answered', token, host: req.headers.host, remoteAddress });
      // The body is the key authorization, nothing more (no newline): validators compare it exactly.
      respond(req, res, 200, keyAuthorization);
    };
    const fail = (error: unknown): void => {
      emit({ type: 'lookup-failed', token, error });
      if (!res.headersSent && !res.destroyed) respond(req, res, 500, 'challenge lookup failed\n');
    };
    let found: ReturnType<HttpChallengeLookup['get']>;
    try {
      found = options.challenges.get(token);
    } catch (error) {
      fail(error);
      return;
    }
    if (typeof found === 'string' || found === undefined) finish(found);
    else Promise.resolve(found).then(finish, fail);
  }

  function redirect(req: http.IncomingMessage, res: http.ServerResponse, target: string | undefined): void {
    const remoteAddress = req.socket.remoteAddress;
    const host = redirectHost(req.headers.host);
    if (host === undefined) {
      emit({ type: 'request-rejected', status: 400, reason: 'missing or malformed Host', remoteAddress });
      respond(req, res, 400, 'bad Host header\n');
      return;
    }
    if (target === undefined || !VISIBLE_ASCII.test(target)) {
      emit({ type: 'request-rejected', status: 400, reason: 'bad request target', remoteAddress });
      respond(req, res, 400, 'bad request target\n');
      return;
    }
    // 301 is what browsers expect for http -> https; 308 keeps the method and body of anything else.
    const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
    const location = `https://${host}${target}`;
    respond(req, res, status, `${location}\n`, { Location: location });
  }

  return (req, res, next) => {
    // Express rewrites req.url below a mount point; originalUrl is what the client asked for.
    const originalUrl = (req as { originalUrl?: unknown }).originalUrl;
    const target = splitTarget(typeof originalUrl === 'string' ? originalUrl : (req.url ?? ''));
    if (
      target &&
      (target.path === CHALLENGE_DIRECTORY || target.path.startsWith(`${CHALLENGE_DIRECTORY}/`))
    ) {
      answerChallenge(req, res, target.path);
      return;
    }
    const other = options.otherRequests ?? (next ? undefined : 'redirect');
    if (other === undefined) next?.();
    else if (other === 'redirect') redirect(req, res, target && target.path + target.query);
    else if (other === 'not-found') respond(req, res, 404, 'not found\n');
    else other(req, res);
  };
}

/** Splits a request target into path and query ("?..." or ""); undefined for "*" and other odd forms. */
function splitTarget(url: string): { path: string; query: string } | undefined {
  const queryStart = url.indexOf('?');
  let path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart);
  if (!path.startsWith('/')) {
    const absolute = ABSOLUTE_FORM.exec(path);
    if (!absolute) return undefined;
    path = path.slice(absolute[0].length) || '/';
  }
  return { path, query };
}

/** The host to redirect to: the Host header without its port (https has its own), if well-formed. */
function redirectHost(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 300) return undefined;
  return HOST_PATTERN.exec(header)?.[1];
}

function respond(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  const payload = Buffer.from(body, 'utf8');
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/plain');
  res.setHeader('Content-Length', payload.length);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // The body is never read; closing after the answer is how it is dropped without buffering it, and
  // without reading the rest of an unbounded upload to keep the connection alive.
  if (hasBody(req)) res.setHeader('Connection', 'close');
  res.end(req.method === 'HEAD' ? undefined : payload);
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export interface HttpChallengeServerOptions extends HttpChallengeHandlerOptions {
  /** The most time a client has to send its request line and headers; default 10 s. */
  readonly requestTimeoutMs?: number;
  /** The most bytes of request line and headers (larger gets 431); default 8 KiB. */
  readonly maxHeaderBytes?: number;
}

export interface HttpChallengeServer {
  /** The HTTP server; `listen()` below is a convenience, `server.listen(...)` works too. */
  readonly server: http.Server;
  /** Listens and resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host?: string): Promise<net.AddressInfo>;
  /** Stops accepting, drops every open connection, and resolves once the server is closed. */
  close(): Promise<void>;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_HEADER_BYTES = 8 * 1024;

/** The canned answers Node itself sends on these errors; we send them too after reporting the event. */
const CLIENT_ERROR_RESPONSES: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

export function createHttpChallengeServer(options: HttpChallengeServerOptions): HttpChallengeServer {
  const requestTimeout = positiveInteger(
    'requestTimeoutMs',
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
  );
  const maxHeaderSize = positiveInteger('maxHeaderBytes', options.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES);
  const handler = createHttpChallengeHandler(options);
  const emit = eventEmitter(options.onEvent);
  /** The response being written on each socket, so a client error does not corrupt it. */
  const responding = new WeakMap<net.Socket, http.ServerResponse>();

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    responding.set(socket, res);
    res.once('finish', () => {
      if (responding.get(socket) === res) responding.delete(socket);
    });
    handler(req, res);
  };

  const server = http.createServer(
    {
      requestTimeout,
      // Node requires headersTimeout <= requestTimeout; the headers are all we ever wait for.
      headersTimeout: requestTimeout,
      maxHeaderSize,
      // Node checks the two timeouts on this interval (default 30 s), so it bounds their precision.
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(requestTimeout / 4))),
      keepAliveTimeout: Math.min(5_000, requestTimeout),
    },
    listener,
  );
  // Without this listener Node answers "Expect: 100-continue" itself, inviting the body we never read.
  server.on('checkContinue', listener);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
    const remoteAddress = socket.remoteAddress;
    const [status, text] = CLIENT_ERROR_RESPONSES[error.code ?? ''] ?? [400, 'Bad Request'];
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') {
      emit({ type: 'request-rejected', status, reason: error.code ?? error.message, remoteAddress });
    }
    // As Node does by default: answer only if no response has started on this socket, then drop it.
    if (socket.writable && !responding.get(socket)?.headersSent) {
      socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  });

  return {
    server,
    listen: (port: number, host?: string) => listenServer(server, port, host),
    async close(): Promise<void> {
      if (!server.listening) {
        server.closeAllConnections();
        return;
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive and half-sent requests would otherwise hold close() open until they time out.
        server.closeAllConnections();
      });
    },
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer`);
  return value;
}
