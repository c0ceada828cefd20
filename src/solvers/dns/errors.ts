// Typed errors for DNS work (queries, RFC 2136 updates, TSIG, propagation checks). Every message names
// the server, the zone and the record involved so an operator can act on it; none ever holds a secret.
// Code 'DNS', except where a timeout (also of propagation) or an unreachable server is what happened.
import { TlswardError } from '../../errors.js';

export type DnsErrorKind =
  /** No answer within the time allowed. */
  | 'timeout'
  /** The server could not be reached or the connection broke. */
  | 'network'
  /** The server answered with an error RCODE (REFUSED, NOTAUTH, SERVFAIL, NOTZONE...). */
  | 'rcode'
  /** TSIG failed: the server rejected our signature (BADSIG, BADKEY, BADTIME) or we rejected its. */
  | 'tsig'
  /** The answer was malformed or did not belong to our question. */
  | 'protocol'
  /** No zone holding the name could be found. */
  | 'zone'
  /** Not every checked server showed the record in time. */
  | 'propagation';

export interface DnsErrorDetails {
  /** host:port of the server involved. */
  readonly server?: string | undefined;
  readonly zone?: string | undefined;
  /** The record involved, e.g. `TXT _acme-challenge.example.org`. */
  readonly record?: string | undefined;
  /** The RCODE (or TSIG error) name, e.g. `REFUSED`, `BADSIG`. */
  readonly rcode?: string | undefined;
  readonly cause?: unknown;
}

/** Errors after which the same request may succeed later without a change of configuration. */
const RETRYABLE_KINDS = new Set<DnsErrorKind>(['timeout', 'network', 'propagation']);
const RETRYABLE_RCODES = new Set(['SERVFAIL']);

export class DnsError extends TlswardError {
  readonly kind: DnsErrorKind;
  readonly server: string | undefined;
  readonly zone: string | undefined;
  readonly record: string | undefined;
  readonly rcode: string | undefined;

  constructor(kind: DnsErrorKind, message: string, details: DnsErrorDetails = {}) {
    const code =
      kind === 'timeout' || kind === 'propagation' ? 'TIMEOUT' : kind === 'network' ? 'NETWORK' : 'DNS';
    super(code, message, {
      retryable: RETRYABLE_KINDS.has(kind) || RETRYABLE_RCODES.has(details.rcode ?? ''),
      cause: details.cause,
    });
    this.kind = kind;
    this.server = details.server;
    this.zone = details.zone;
    this.record = details.record;
    this.rcode = details.rcode;
  }
}

/** One server that did not show the record, and why (last state seen). */
export interface LaggingServer {
  /** What was queried, e.g. `ns1.example.org (192.0.2.1:53)` or `127.0.0.1:5353`. */
  readonly server: string;
  readonly reason: string;
}

/** The record did not become visible on every checked server within the propagation timeout. */
export class DnsPropagationError extends DnsError {
  readonly lagging: readonly LaggingServer[];

  constructor(
    record: string,
    zone: string | undefined,
    timeoutMs: number,
    lagging: readonly LaggingServer[],
  ) {
    const list = lagging.map((entry) => `${entry.server} (${entry.reason})`).join(', ');
    super('propagation', `${record} is not visible on every server after ${timeoutMs} ms; lagging: ${list}`, {
      zone,
      record,
      server: lagging.map((entry) => entry.server).join(', '),
    });
    this.lagging = lagging;
  }
}
