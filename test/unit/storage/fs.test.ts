// FileStorage: the conformance suite, plus what only a shared folder has: file modes, crash leftovers,
// atomic replacement under concurrency, and locks between processes (dead holders, live holders).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../../src/storage/fs.js';
import { storageConformance } from './conformance.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fsModule = new URL('../../../src/storage/fs.js', import.meta.url).href;

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tlsward-fs-'));
}

storageConformance('FileStorage', async () => {
  const root = await tempRoot();
  return {
    storage: new FileStorage({ root: join(root, 'cache') }),
    cleanup: () => rm(root, { recursive: true, force: true }),
    peer: (skewMs: number) =>
      new FileStorage({ root: join(root, 'cache'), clock: () => Date.now() + skewMs }),
  };
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const sha = (value: Uint8Array): string => createHash('sha256').update(value).digest('hex');

/** Runs TypeScript in a child process, with FileStorage imported as `FileStorage`. */
function child(code: string): ChildProcess {
  const source = `import { FileStorage } from ${JSON.stringify(fsModule)};\n${code}`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resolves when the child prints `line`; rejects if it exits first. */
function printed(proc: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) resolve();
    });
    proc.on('exit', (status) => reject(new Error(`child exited (${status}) before printing ${line}`)));
  });
}

const exited = (proc: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.on('exit', (status) => resolve(status));
  });

describe('FileStorage on disk', () => {
  const roots: string[] = [];
  const fresh = async (): Promise<string> => {
    const root = await tempRoot();
    roots.push(root);
    return root;
  };
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('files are 0600 and folders 0700, whatever the umask; a loose root is tightened', async () => {
    const base = await fresh();
    const root = join(base, 'cache');
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    const umask = process.umask(0);
    try {
      const storage = new FileStorage({ root });
      await storage.put('certificates/issuer/example.org/privkey.pem', new Uint8Array([1, 2, 3]));
      await (await storage.lock('issue/example.org')).release();
      const lock = await storage.lock('issue/held');
      assert.equal(await mode(root), 0o700);
      for (const dir of [
        'certificates',
        'certificates/issuer',
        'certificates/issuer/example.org',
        '.locks',
      ]) {
        assert.equal(await mode(join(root, dir)), 0o700, dir);
      }
      assert.equal(await mode(join(root, 'certificates/issuer/example.org/privkey.pem')), 0o600);
      assert.equal(await mode(join(root, '.locks/issue~held.lock')), 0o600);
      await lock.release();
    } finally {
      process.umask(umask);
    }
  });

  it('temporary files left by a crash are never listed or read, and old ones are swept', async () => {
    const root = await fresh();
    const storage = new FileStorage({ root });
    await storage.put('x/k', new TextEncoder().encode('whole'));
    await writeFile(join(root, 'x', '~0123456789abcdef.tmp'), 'half a val');
    await mkdir(join(root, 'only-temp'));
    await writeFile(join(root, 'only-temp', '~fedcba9876543210.tmp'), 'half');
    const old = join(root, 'x', '~00000000000000aa.tmp');
    await writeFile(old, 'ancient');
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    await utimes(old, twoHoursAgo, twoHoursAgo);

    assert.deepEqual(await storage.list(''), ['x']);
    assert.deepEqual(await storage.list('x'), ['x/k']);
    assert.deepEqual(await storage.list('', { recursive: true }), ['x/k']);
    assert.equal(new TextDecoder().decode(await storage.get('x/k')), 'whole');
    await assert.rejects(storage.get('x/~0123456789abcdef.tmp'), TypeError);
    const left = await readdir(join(root, 'x'));
    assert.ok(!left.includes('~00000000000000aa.tmp'), 'the old leftover was removed');
    assert.ok(left.includes('~0123456789abcdef.tmp'), 'a young one may be a write in progress');
  });

  it('concurrent puts to one key leave one whole value; readers never see a part', async () => {
    const storage = new FileStorage({ root: await fresh() });
    const values = Array.from({ length: 50 }, () => new Uint8Array(randomBytes(64 * 1024)));
    const digests = new Set(values.map(sha));
    let writing = true;
    const reader = (async () => {
      let reads = 0;
      while (writing || reads === 0) {
        const seen = await storage.get('race/k');
        if (seen !== undefined) assert.ok(digests.has(sha(seen)), `a torn read of ${seen.length} bytes`);
        reads++;
      }
      return reads;
    })();
    await Promise.all(values.map((value) => storage.put('race/k', value)));
    writing = false;
    assert.ok((await reader) > 0);
    const final = await storage.get('race/k');
    assert.ok(final !== undefined && digests.has(sha(final)));
    assert.deepEqual(await readdir(join(storage.root, 'race')), ['k'], 'no temporary file is left');
  });

  it('a lock whose holder process died is taken over at once', async () => {
    const root = await fresh();
    const proc = child(`
      const storage = new FileStorage({ root: ${JSON.stringify(root)} });
      await storage.lock('issue/crash', { ttlMs: 600000 });
      console.log('locked');
      process.exit(0); // dies holding the lock
    `);
    await printed(proc, 'locked');
    await exited(proc);
    const record = JSON.parse(await readFile(join(root, '.locks/issue~crash.lock'), 'utf8'));
    assert.equal(record.pid, proc.pid, 'the dead child still owns the lock file');
    const storage = new FileStorage({ root });
    const lock = await storage.lock('issue/crash', { signal: AbortSignal.timeout(5_000) });
    const now = JSON.parse(await readFile(join(root, '.locks/issue~crash.lock'), 'utf8'));
    assert.equal(now.token, lock.token);
    await lock.release();
  });

  it('a lock held by another live process makes this one wait for its release', async (t) => {
    const root = await fresh();
    const proc = child(`
      const storage = new FileStorage({ root: ${JSON.stringify(root)} });
      const lock = await storage.lock('issue/shared');
      console.log('locked');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await storage.put('proof', new TextEncoder().encode('written by the child under the lock'));
      await lock.release();
    `);
    t.after(() => proc.kill());
    await printed(proc, 'locked');
    const storage = new FileStorage({ root });
    const lock = await storage.lock('issue/shared', { signal: AbortSignal.timeout(10_000) });
    // The child wrote this just before releasing: seeing it proves we waited for the release.
    assert.equal(new TextDecoder().decode(await storage.get('proof')), 'written by the child under the lock');
    await lock.release();
    assert.equal(await exited(proc), 0);
  });

  it('many waiters on a stale lock file: one takes it over, the others wait their turn', async () => {
    const root = await fresh();
    await (await new FileStorage({ root }).lock('issue/warmup')).release(); // creates .locks
    const path = join(root, '.locks/issue~stale.lock');
    await writeFile(
      path,
      JSON.stringify({ token: 'gone', pid: process.pid, hostname: hostname(), ttlMs: 1_000 }),
    );
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(path, longAgo, longAgo);
    let inside = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        const storage = new FileStorage({ root }); // as many clients as waiters, like separate processes
        const lock = await storage.lock('issue/stale', { signal: AbortSignal.timeout(20_000) });
        inside++;
        assert.equal(inside, 1, 'two holders at once');
        await new Promise((resolve) => setTimeout(resolve, 5));
        inside--;
        await lock.release();
      }),
    );
    assert.deepEqual(await readdir(join(root, '.locks')), [], 'no guard, temporary or lock file is left');
  });

  it('an expired lease on disk is taken over; an unreadable lock file only once it is old', async () => {
    const root = await fresh();
    const storage = new FileStorage({ root });
    await (await storage.lock('issue/warmup')).release(); // creates .locks
    const expired = join(root, '.locks/issue~expired.lock');
    const record = { token: 'someone', pid: process.pid, hostname: hostname(), ttlMs: 1_000 };
    await writeFile(expired, JSON.stringify(record));
    const tenSecondsAgo = new Date(Date.now() - 10_000);
    await utimes(expired, tenSecondsAgo, tenSecondsAgo);
    const taken = await storage.lock('issue/expired', { signal: AbortSignal.timeout(5_000) });
    await taken.release();

    const garbled = join(root, '.locks/issue~garbled.lock');
    await writeFile(garbled, '{"tok');
    await assert.rejects(storage.lock('issue/garbled', { signal: AbortSignal.timeout(200) }), {
      name: 'TimeoutError',
    });
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    await utimes(garbled, twoMinutesAgo, twoMinutesAgo);
    const lock = await storage.lock('issue/garbled', { signal: AbortSignal.timeout(5_000) });
    await lock.release();
    assert.deepEqual(await readdir(join(root, '.locks')), [], 'nothing left behind');
  });
});
