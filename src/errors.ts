// The typed errors of tlsward. Every error carries a stable `code` and says whether retrying may help,
// so callers (the CLI, the scheduler) decide what to do without parsing messages.

export type ErrorCode =
  | 'ACME_PROBLEM'
  | 'ACME_PROTOCOL'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'CHALLENGE_UNSUPPORTED'
  | 'CHALLENGE_FAILED'
  /** A DNS server or DNS provider refused or failed a DNS-01 step (update, lookup, propagation). */
  | 'DNS'
  | 'INVALID_IDENTIFIER'
  | 'STORAGE'
  | 'LOCK'
  | 'CONFIG';

export class TlswardError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** The identifier a problem (or subproblem) is about, as RFC 8555 section 6.7.1 sends it. */
export interface ProblemIdentifier {
  type: string;
  value: string;
}

/** An RFC 7807 problem document as an ACME server sends it. */
export interface ProblemDocument {
  type?: string;
  detail?: string;
  status?: number;
  identifier?: ProblemIdentifier;
  subproblems?: ProblemDocument[];
}

const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** Problem types after which the same request may succeed later without any change by us. */
const RETRYABLE_PROBLEMS = new Set(['rateLimited', 'serverInternal', 'badNonce']);

/** A problem document from the CA, kept whole: `type`, `detail`, `status`, `subproblems`, `identifier`. */
export class AcmeProblemError extends TlswardError {
  readonly type: string;
  readonly detail: string;
  readonly status: number | undefined;
  readonly identifier: ProblemIdentifier | undefined;
  readonly subproblems: AcmeProblemError[];
  /** When the CA said (Retry-After) that trying again makes sense; undefined if it did not say. */
  readonly retryAfter: Date | undefined;

  constructor(problem: ProblemDocument, options: { retryAfter?: Date; context?: string } = {}) {
    const type = problem.type ?? 'about:blank';
    const detail = problem.detail ?? '(no detail given)';
    const retryable =
      RETRYABLE_PROBLEMS.has(shortProblemType(type)) ||
      (problem.status ?? 0) >= 500 ||
      options.retryAfter !== undefined;
    super('ACME_PROBLEM', describeProblem(problem, options.context), { retryable });
    this.type = type;
    this.detail = detail;
    this.status = problem.status;
    this.identifier = problem.identifier;
    this.subproblems = (problem.subproblems ?? []).map((sub) => new AcmeProblemError(sub));
    this.retryAfter = options.retryAfter;
  }

  /** The type without the ACME URN prefix, e.g. `badNonce`, `rateLimited`. */
  get shortType(): string {
    return shortProblemType(this.type);
  }
}

export function shortProblemType(type: string): string {
  return type.startsWith(ACME_ERROR_PREFIX) ? type.slice(ACME_ERROR_PREFIX.length) : type;
}

function describeProblem(problem: ProblemDocument, context: string | undefined): string {
  const parts: string[] = [];
  if (context) parts.push(context);
  const who = problem.identifier ? ` for ${problem.identifier.value}` : '';
  parts.push(
    `${shortProblemType(problem.type ?? 'about:blank')}${who}: ${problem.detail ?? '(no detail given)'}`,
  );
  for (const sub of problem.subproblems ?? []) {
    const subWho = sub.identifier ? `${sub.identifier.value}: ` : '';
    parts.push(`  - ${subWho}${shortProblemType(sub.type ?? '')}: ${sub.detail ?? ''}`);
  }
  return parts.join('\n');
}

/** The CA answered in a way RFC 8555 does not allow (missing header, malformed JSON, bad state). */
export class AcmeProtocolError extends TlswardError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('ACME_PROTOCOL', message, options);
  }
}

/** The CA could not be reached, or the connection broke. */
export class NetworkError extends TlswardError {
  constructor(message: string, cause?: unknown) {
    super('NETWORK', message, { retryable: true, cause });
  }
}

/** Something took longer than its bound (polling an order, a lock). */
export class TimeoutError extends TlswardError {
  constructor(message: string) {
    super('TIMEOUT', message, { retryable: true });
  }
}

/** A name that cannot be put in a certificate request (bad syntax, IDNA failure, not a DNS name). */
export class InvalidIdentifierError extends TlswardError {
  readonly identifier: string;
  constructor(identifier: string, reason: string) {
    super('INVALID_IDENTIFIER', `invalid domain name ${JSON.stringify(identifier)}: ${reason}`);
    this.identifier = identifier;
  }
}

/** The CA offers no challenge type we are configured to use for an authorization. */
export class ChallengeUnsupportedError extends TlswardError {
  readonly domain: string;
  readonly offered: string[];
  constructor(domain: string, wanted: readonly string[], offered: string[]) {
    super(
      'CHALLENGE_UNSUPPORTED',
      `${domain}: the CA does not offer ${wanted.join(' or ')}; it offers ${offered.join(', ') || 'no challenges'}`,
    );
    this.domain = domain;
    this.offered = offered;
  }
}

/** Proving control of a name failed; `cause` holds the CA's problem when there is one. */
export class ChallengeFailedError extends TlswardError {
  readonly domain: string;
  readonly problem: AcmeProblemError | undefined;
  constructor(domain: string, message: string, problem?: AcmeProblemError) {
    super('CHALLENGE_FAILED', `${domain}: ${message}`, {
      retryable: problem?.retryable ?? false,
      cause: problem,
    });
    this.domain = domain;
    this.problem = problem;
  }
}

export class StorageError extends TlswardError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('STORAGE', message, options);
  }
}

export class LockError extends TlswardError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('LOCK', message, { retryable: options.retryable ?? true, cause: options.cause });
  }
}
