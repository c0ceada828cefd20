// `tlsward issue`: obtain one certificate now, proving the names with a TLS-ALPN-01 responder that this
// command opens on --port for the duration of the order, and store it in the --cache folder.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { nodeFetch } from '../acme/fetch.js';
import { normalizeDomains } from '../acme/identifiers.js';
import type { KeyType } from '../crypto/keys.js';
import { preloadX509Library } from '../crypto/x509-library.js';
import { AcmeProblemError, ChallengeFailedError, InvalidIdentifierError, TlswardError } from '../errors.js';
import { AcmeIssuer } from '../issuers/acme-issuer.js';
import type { IssueProgress } from '../issuers/issuer.js';
import { CertificateStore } from '../manager/certificate-store.js';
import { createSharedTlsListener } from '../server/alpn-tls-server.js';
import { createHttpChallengeServer } from '../server/http-challenge.js';
import { type Listenable, listenAllInterfaces } from '../server/listen.js';
import { Http01Solver, HttpChallenges } from '../solvers/http-01.js';
import type { ChallengeSolver, ChallengeType } from '../solvers/solver.js';
import { TlsAlpn01Solver, TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import { FileStorage } from '../storage/fs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './exit-codes.js';
import { describeProgress } from './progress.js';
import type { Terminal } from './terminal.js';

export interface IssueCommandOptions {
  directory: string;
  contact: string[];
  cache: string;
  domain: string[];
  challenge: ChallengeType;
  /** Default: the port the CA connects to for the challenge type. */
  port?: number;
  listen?: string;
  keyType: KeyType;
  preferredChain?: string;
  eabKid?: string;
  eabHmacKey?: string;
  caFile?: string;
  json?: boolean;
}

export async function runIssue(options: IssueCommandOptions, terminal: Terminal): Promise<number> {
  const names = validate(options);
  preloadX509Library(); // needed for the challenge certificate and the CSR; load while the CA answers
  const fetch = options.caFile ? nodeFetch({ ca: await readCaFile(options.caFile) }) : undefined;
  const storage = new FileStorage({ root: options.cache });
  const progress = (event: IssueProgress) => {
    if (!options.json) terminal.err(`${describeProgress(event)}\n`);
  };
  const responder = createResponder(options.challenge);
  const issuer = new AcmeIssuer({
    directoryUrl: options.directory,
    storage,
    contact: options.contact,
    ...(options.eabKid && options.eabHmacKey
      ? { externalAccountBinding: { kid: options.eabKid, hmacKey: options.eabHmacKey } }
      : {}),
    solvers: [responder.solver],
    keyType: options.keyType,
    ...(options.preferredChain ? { preferredChain: options.preferredChain } : {}),
    ...(fetch ? { fetch } : {}),
    onProgress: progress,
  });

  const interrupt = abortOnInterrupt();
  const signal = interrupt.signal;
  try {
    const port = options.port ?? (options.challenge === 'http-01' ? 80 : 443);
    const address = await listenOn(responder, port, options.listen);
    if (!options.json) terminal.err(`${options.challenge} responder listening on ${address}\n`);
    const issued = await issuer.issue({ names, keyType: options.keyType }, signal);
    const stored = await new CertificateStore(storage).save(issuer.id, issued, signal);
    const files = {
      certificate: resolve(options.cache, stored.keys.certificate),
      chain: resolve(options.cache, stored.keys.chain),
      fullchain: resolve(options.cache, stored.keys.fullchain),
      privateKey: resolve(options.cache, stored.keys.privateKey),
    };
    if (options.json) {
      terminal.out(
        `${JSON.stringify({ names: issued.names, notAfter: issued.info.notAfter.toISOString(), ...files })}\n`,
      );
    } else {
      terminal.out(
        [
          `Certificate for ${issued.names.join(', ')} issued by ${issued.info.issuerCommonName ?? issued.info.issuer}`,
          `  expires     ${issued.info.notAfter.toISOString()} (${daysLeft(issued.info.notAfter)} days)`,
          `  certificate ${files.certificate}`,
          `  chain       ${files.chain}`,
          `  fullchain   ${files.fullchain}`,
          `  private key ${files.privateKey}`,
          '',
        ].join('\n'),
      );
    }
    return EXIT_OK;
  } catch (error) {
    reportFailure(error, names, options, terminal);
    return EXIT_FAILURE;
  } finally {
    interrupt.dispose();
    await responder.close();
  }
}

interface Responder extends Listenable {
  readonly solver: ChallengeSolver;
}

/** The solver for the chosen challenge and the server that answers the CA for it. */
function createResponder(challenge: ChallengeType): Responder {
  if (challenge === 'http-01') {
    const tokens = new HttpChallenges();
    const server = createHttpChallengeServer({ challenges: tokens, otherRequests: 'not-found' });
    return { solver: new Http01Solver(tokens), listen: server.listen, close: server.close };
  }
  const names = new TlsAlpnChallenges();
  const listener = createSharedTlsListener({ challenges: names });
  return { solver: new TlsAlpn01Solver(names), listen: listener.listen, close: listener.close };
}

function validate(options: IssueCommandOptions): string[] {
  if (options.challenge === 'dns-01') {
    throw new UsageError('--challenge dns-01 is not available in the CLI yet; use tls-alpn-01 or http-01');
  }
  if (Boolean(options.eabKid) !== Boolean(options.eabHmacKey)) {
    throw new UsageError('--eab-kid and --eab-hmac-key go together');
  }
  try {
    const names = normalizeDomains(options.domain);
    const wildcard = names.find((name) => name.startsWith('*.'));
    if (wildcard) throw new UsageError(`${wildcard}: a wildcard name can only be proven with dns-01`);
    return names;
  } catch (error) {
    if (error instanceof InvalidIdentifierError) throw new UsageError(error.message);
    throw error;
  }
}

async function readCaFile(path: string): Promise<string> {
  try {
    const pem = await readFile(path, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (error) {
    throw new UsageError(`--ca-file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Binds the responder to the given address, or to all interfaces. */
async function listenOn(responder: Listenable, port: number, host: string | undefined): Promise<string> {
  try {
    const bound =
      host === undefined ? await listenAllInterfaces(responder, port) : await responder.listen(port, host);
    return bound.address.includes(':')
      ? `[${bound.address}]:${bound.port}`
      : `${bound.address}:${bound.port}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : '';
    throw new UsageError(
      `cannot listen on port ${port}${host ? ` of ${host}` : ''}: ${code ?? error}${hint}`,
    );
  }
}

function reportFailure(
  error: unknown,
  names: string[],
  options: IssueCommandOptions,
  terminal: Terminal,
): void {
  if (error instanceof UsageError) throw error;
  const domain =
    error instanceof ChallengeFailedError
      ? error.domain
      : error instanceof AcmeProblemError
        ? error.identifier?.value
        : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (options.json) {
    const problem = error instanceof ChallengeFailedError ? error.problem : error;
    terminal.out(
      `${JSON.stringify({
        error: {
          code: error instanceof TlswardError ? error.code : 'INTERNAL',
          message,
          names,
          ...(domain ? { domain } : {}),
          ...(problem instanceof AcmeProblemError ? { type: problem.type, detail: problem.detail } : {}),
          retryable: error instanceof TlswardError ? error.retryable : false,
        },
      })}\n`,
    );
  }
  terminal.err(`tlsward: issuing a certificate for ${names.join(', ')} failed:\n${message}\n`);
}

function daysLeft(notAfter: Date): number {
  return Math.floor((notAfter.getTime() - Date.now()) / 86_400_000);
}

/** Ctrl-C aborts the order cleanly (responder closed, challenge answers removed) instead of killing it. */
function abortOnInterrupt(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
