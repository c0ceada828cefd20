// Running the built `tlsward` binary (bin/tlsward.js, built by npm run build) as a child process: one call,
// one exit code with the whole stdout and stderr, and the `tlsward issue` options that point it at a Pebble.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningPebble } from './pebble.js';

export const TLSWARD_BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'bin',
  'tlsward.js',
);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tlsward ARGS…` to its end (at most 60 s) and collects the exit code and both outputs. */
export function tlsward(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TLSWARD_BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The `tlsward issue` options for `pebble`: its directory trusted through its test CA, the account contact,
 * the cache folder, and TLS-ALPN-01 answered on loopback at the port Pebble's validator dials.
 */
export function pebbleIssueOptions(
  pebble: RunningPebble,
  cache: string,
  contact = 'admin@example.test',
): string[] {
  return [
    '--directory',
    pebble.directoryUrl,
    '--ca-file',
    pebble.caFile,
    '--contact',
    contact,
    '--cache',
    cache,
    '--port',
    String(pebble.tlsPort),
    '--listen',
    '127.0.0.1',
  ];
}
