// The main job until the daemon exists: start a local Pebble CA (and its DNS stand-in) on loopback,
// then run the real `tlsward issue` command against it and show the certificate it obtained.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pebbleIssueOptions, TLSWARD_BIN } from '../test/integration/support/cli.js';
import { startPebble } from '../test/integration/support/pebble.js';

const pebble = await startPebble();
try {
  const cache = await mkdtemp(join(tmpdir(), 'tlsward-demo-'));
  const args = [
    TLSWARD_BIN,
    'issue',
    ...pebbleIssueOptions(pebble, cache, 'demo@example.test'),
    '--domain',
    'demo.example.test',
    '--domain',
    'www.demo.example.test',
  ];
  console.error(`demo: Pebble at ${pebble.directoryUrl}; running: tlsward ${args.slice(1).join(' ')}`);
  const code = await new Promise<number>((resolve) => {
    const child = execFile(process.execPath, args, (error) => resolve(error ? Number(error.code ?? 1) : 0));
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
  });
  process.exitCode = code;
} finally {
  await pebble.stop();
}
