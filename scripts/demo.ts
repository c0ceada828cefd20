// The main job until the daemon exists: start a local Pebble CA (and its DNS stand-in) on loopback,
// then run the real `tlsward issue` command against it and show the certificate it obtained.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPebble } from '../test/integration/support/pebble.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tlsward.js');
const pebble = await startPebble();
try {
  const cache = await mkdtemp(join(tmpdir(), 'tlsward-demo-'));
  const args = [
    bin,
    'issue',
    '--directory',
    pebble.directoryUrl,
    '--ca-file',
    pebble.caFile,
    '--contact',
    'demo@example.test',
    '--cache',
    cache,
    '--port',
    String(pebble.tlsPort),
    '--listen',
    '127.0.0.1',
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
