// A throw-away CA and a `localhost` server certificate (SAN DNS:localhost, IP:127.0.0.1, IP:::1) for
// Pebble's own HTTPS listeners, made once per process with the openssl CLI (execFile, no shell) in a temp
// folder that is removed at exit. This CA only secures the connection to Pebble; it is unrelated to the
// roots Pebble issues from (those come from its management API and change at every start).
// `selfSignedCertificate` makes stand-alone ones the same way, for static certificates and TLS backends.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeAtExit } from './processes.js';

const run = promisify(execFile);

export interface TestCa {
  /** The temp folder holding every file below. */
  dir: string;
  caCertFile: string;
  caCertPem: string;
  caKeyFile: string;
  serverCertFile: string;
  serverCertPem: string;
  serverKeyFile: string;
  serverKeyPem: string;
}

let cached: Promise<TestCa> | undefined;

/** The process-wide test CA and localhost certificate (created on first call). */
export function getTestCa(): Promise<TestCa> {
  cached ??= createTestCa().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** openssl req options for a new, unencrypted P-256 key. */
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A self-signed EC certificate in `folder` (created if missing) as `cert.pem` and `key.pem`: subject CN
 * `commonName` (default: the first of `names`), a DNS subjectAltName for each of `names` (none if there are
 * none), valid for `days` (default 30).
 */
export async function selfSignedCertificate(
  folder: string,
  options: { names?: readonly string[]; commonName?: string; days?: number },
): Promise<{ cert: string; key: string }> {
  const names = options.names ?? [];
  const commonName = options.commonName ?? names[0];
  if (commonName === undefined) throw new Error('selfSignedCertificate needs a commonName or a name');
  await mkdir(folder, { recursive: true });
  const cert = join(folder, 'cert.pem');
  const key = join(folder, 'key.pem');
  await openssl(folder, [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(options.days ?? 30),
    '-subj',
    `/CN=${commonName}`,
    ...(names.length > 0
      ? ['-addext', `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')}`]
      : []),
  ]);
  return { cert, key };
}

async function createTestCa(): Promise<TestCa> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsward-test-ca-'));
  removeAtExit(dir);
  const file = (name: string) => join(dir, name);

  await openssl(dir, [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '3650',
    '-subj',
    '/CN=tlsward integration test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, [
    'req',
    '-new',
    ...ecKey,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    file('server.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '',
    ].join('\n'),
  );
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    `0x${Date.now().toString(16)}`,
    '-days',
    '825',
    '-extfile',
    file('server.ext'),
    '-out',
    file('server.pem'),
  ]);

  return {
    dir,
    caCertFile: file('ca.pem'),
    caCertPem: readFileSync(file('ca.pem'), 'utf8'),
    caKeyFile: file('ca.key'),
    serverCertFile: file('server.pem'),
    serverCertPem: readFileSync(file('server.pem'), 'utf8'),
    serverKeyFile: file('server.key'),
    serverKeyPem: readFileSync(file('server.key'), 'utf8'),
  };
}
