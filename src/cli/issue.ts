// `tlsward issue`: obtain one certificate now, proving the names with the chosen challenge (a responder
// this command opens on --port for the duration of the order, or DNS updates), and store it in --cache.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { nodeFetch } from '../acme/fetch.js';
import { normalizeDomains } from '../acme/identifiers.js';
import type { KeyType } from '../crypto/keys.js';
import { AcmeProblemError, ChallengeFailedError, InvalidIdentifierError, TlswardError } from '../errors.js';
import { AcmeIssuer } from '../issuers/acme-issuer.js';
import type { IssueProgress } from '../issuers/issuer.js';
import { CertificateStore } from '../manager/certificate-store.js';
import { FileStorage } from '../storage/fs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './exit-codes.js';
import { describeProgress } from './progress.js';
import { createResponder, type ResponderOptions } from './responders.js';
import type { Terminal } from './terminal.js';

export interface IssueCommandOptions extends ResponderOptions {
  directory: string;
  contact: string[];
  cache: string;
  domain: string[];
  keyType: KeyType;
  preferredChain?: string;
  eabKid?: string;
  eabHmacKey?: string;
  caFile?: string;
  json?: boolean;
}

export async function runIssue(options: IssueCommandOptions, terminal: Terminal): Promise<number> {
  const names = validate(options);
  const fetch = options.caFile ? nodeFetch({ ca: await readCaFile(options.caFile) }) : undefined;
  const storage = new FileStorage({ root: options.cache });
  const progress = (event: IssueProgress) => {
    if (!options.json) terminal.err(`${describeProgress(event)}\n`);
  };
  const responder = await createResponder(options);
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
    const where = await responder.start();
    if (!options.json) terminal.err(`${where}\n`);
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

function validate(options: IssueCommandOptions): string[] {
  if (Boolean(options.eabKid) !== Boolean(options.eabHmacKey)) {
    throw new UsageError('--eab-kid and --eab-hmac-key go together');
  }
  try {
    const names = normalizeDomains(options.domain);
    const wildcard = names.find((name) => name.startsWith('*.'));
    if (wildcard && options.challenge !== 'dns-01') {
      throw new UsageError(`${wildcard}: a wildcard name can only be proven with dns-01`);
    }
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
