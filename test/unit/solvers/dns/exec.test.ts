// The exec DNS provider with small real programs (node -e, bash -c): the argv and environment a hook
// gets (lego's `present|cleanup <fqdn.> <value>`), no shell interpretation, failures with the exit
// status and the output tail (secrets masked), the time bound killing the whole process group, abort,
// a program that cannot be started, and option checks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExecProvider, ExecProviderError } from '../../../../src/solvers/dns/exec.js';

const signal = () => AbortSignal.timeout(20_000);
const NODE = process.execPath;

/** `node -e <code>`: the hook's own arguments are process.argv.slice(1). */
const nodeHook = (code: string) => [NODE, '-e', code];

async function rejection(promise: Promise<unknown>): Promise<ExecProviderError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof ExecProviderError, `expected an ExecProviderError, got ${String(error)}`);
  return error;
}

/** True while a process with this pid runs (a zombie waiting for its new parent to reap it is dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('ExecProvider', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlsward-exec-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const recordingHook = (file: string) =>
    nodeHook(
      `require('fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify({ argv: process.argv.slice(1), ` +
        'env: { action: process.env.TLSWARD_DNS_ACTION, name: process.env.TLSWARD_DNS_NAME, ' +
        'value: process.env.TLSWARD_DNS_VALUE, extra: process.env.HOOK_EXTRA, path: process.env.PATH } }))',
    );

  it('runs `command... present <fqdn.> <value>` and `cleanup` with the TLSWARD_DNS_* environment', async () => {
    const file = join(dir, 'calls.json');
    const provider = new ExecProvider({
      command: [...recordingHook(file), 'first-arg'],
      env: { HOOK_EXTRA: 'x' },
    });
    const record = {
      name: '_acme-challenge.my.example.org',
      value: 'MsijOYZxqyjGnFGwhjrhfg-Xgbl5r68WPda0J9EgqqI',
    };
    await provider.addTxt(record, signal());
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      argv: ['first-arg', 'present', '_acme-challenge.my.example.org.', record.value],
      env: {
        action: 'present',
        name: '_acme-challenge.my.example.org.',
        value: record.value,
        extra: 'x',
        path: process.env.PATH,
      },
    });
    await provider.removeTxt({ ...record, name: '_acme-challenge.my.example.org.' }, signal());
    const cleanup = JSON.parse(await readFile(file, 'utf8'));
    assert.deepEqual(cleanup.argv, ['first-arg', 'cleanup', '_acme-challenge.my.example.org.', record.value]);
    assert.equal(cleanup.env.action, 'cleanup');
  });

  it('passes no environment of its own when inheritEnv is false', async () => {
    const file = join(dir, 'bare.json');
    await new ExecProvider({ command: recordingHook(file), inheritEnv: false }).addTxt(
      { name: 'a.example.org', value: 'v' },
      signal(),
    );
    const seen = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(seen.env.path, undefined);
    assert.equal(seen.env.name, 'a.example.org.');
  });

  it('uses no shell: the value reaches the program as one argument, uninterpreted', async () => {
    const file = join(dir, 'shell.json');
    const value = `a b;$(touch ${join(dir, 'pwned')}) \`id\` "q" 'q' | > *`;
    await new ExecProvider({ command: recordingHook(file) }).addTxt(
      { name: 'x.example.org', value },
      signal(),
    );
    const seen = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(seen.argv[2], value);
    assert.equal(seen.argv.length, 3);
    await assert.rejects(readFile(join(dir, 'pwned')), { code: 'ENOENT' });
  });

  it('reports a non-zero exit with its status and output tail, masking configured environment values', async () => {
    const secret = 'super-secret-api-key-123';
    const provider = new ExecProvider({
      command: nodeHook(
        "console.log('talking to the API with', process.env.API_KEY); console.error('HTTP 403 forbidden'); process.exit(3)",
      ),
      env: { API_KEY: secret },
    });
    const error = await rejection(
      provider.addTxt({ name: '_acme-challenge.example.org', value: 'val' }, signal()),
    );
    assert.equal(error.failure, 'exit');
    assert.equal(error.exitCode, 3);
    assert.equal(error.action, 'present');
    assert.equal(error.record, 'TXT _acme-challenge.example.org.');
    assert.equal(error.program, NODE);
    assert.equal(error.retryable, false);
    assert.equal(error.code, 'DNS');
    assert.match(
      error.message,
      /exec hook .* present _acme-challenge\.example\.org\. "val" failed: exit status 3/,
    );
    assert.match(error.message, /talking to the API with \[API_KEY\]/);
    assert.match(error.message, /HTTP 403 forbidden/);
    assert.ok(!error.message.includes(secret), 'the secret is not in the message');
    assert.ok(!error.output.includes(secret), 'the secret is not in the kept output');
    assert.ok(!error.message.includes('console.log'), 'arguments after the program are not repeated');
  });

  it('keeps only the tail of long output, and masks a secret that straddles the cut', async () => {
    const secret = 'S'.repeat(40);
    const provider = new ExecProvider({
      command: nodeHook(
        "const s = process.env.TOKEN; process.stdout.write('x'.repeat(5000) + s + '\\n' + 'y'.repeat(150) + '\\nlast line\\n'); process.exit(1)",
      ),
      env: { TOKEN: secret },
      outputTailChars: 200,
    });
    const error = await rejection(provider.removeTxt({ name: 'a.example.org', value: 'v' }, signal()));
    assert.ok(error.output.length <= 204, `kept ${error.output.length} characters`);
    assert.match(error.output, /last line/);
    assert.ok(!error.output.includes('SSSS'), 'no part of the secret is shown');
    assert.ok(!error.output.includes('xxxxx'), 'the beginning is dropped');
  });

  it('kills a program that runs too long, with what it started, and says so', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const provider = new ExecProvider({
      // bash -c SCRIPT $0 $1 $2: the sleeping grandchild must die with the group.
      command: ['bash', '-c', `sleep 30 & echo $! > ${pidFile}; echo started; wait`],
      timeoutMs: 300,
    });
    const started = Date.now();
    const error = await rejection(provider.addTxt({ name: 'slow.example.org', value: 'v' }, signal()));
    assert.ok(Date.now() - started < 5_000);
    assert.equal(error.failure, 'timeout');
    assert.equal(error.code, 'TIMEOUT');
    assert.equal(error.retryable, true);
    assert.match(error.message, /still running after 300 ms, killed; output:\nstarted/);
    const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(grandchild), false, 'the background sleep was killed too');
  });

  it('follows SIGTERM with SIGKILL after the grace period', async () => {
    const provider = new ExecProvider({
      command: nodeHook(
        "process.on('SIGTERM', () => {}); console.log('ignoring'); setInterval(() => {}, 1000)",
      ),
      timeoutMs: 300,
      killGraceMs: 200,
    });
    const started = Date.now();
    const error = await rejection(provider.addTxt({ name: 'stubborn.example.org', value: 'v' }, signal()));
    assert.equal(error.failure, 'timeout');
    assert.equal(error.signal, 'SIGKILL');
    assert.ok(Date.now() - started < 5_000);
  });

  it("stops the program when the caller aborts, and rejects with the caller's reason", async () => {
    const controller = new AbortController();
    const pidFile = join(dir, 'aborted.pid');
    const provider = new ExecProvider({
      command: nodeHook(
        `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 30_000)`,
      ),
    });
    const pending = provider.addTxt({ name: 'abort.example.org', value: 'v' }, controller.signal);
    for (let i = 0; i < 100; i++) {
      if (await readFile(pidFile, 'utf8').catch(() => '')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    controller.abort(new Error('shutting down'));
    await assert.rejects(pending, /shutting down/);
    assert.equal(alive(Number(await readFile(pidFile, 'utf8'))), false, 'the program was stopped');
    await assert.rejects(
      provider.addTxt({ name: 'abort.example.org', value: 'v' }, controller.signal),
      /shutting down/,
    );
  });

  it('does not wait for a background process that keeps the output open after a successful exit', async () => {
    const provider = new ExecProvider({ command: ['bash', '-c', 'sleep 3 & exit 0'] });
    const started = Date.now();
    await provider.addTxt({ name: 'bg.example.org', value: 'v' }, signal());
    assert.ok(Date.now() - started < 2_500, `took ${Date.now() - started} ms`);
  });

  it('reports a program that does not exist', async () => {
    const missing = join(dir, 'no-such-hook');
    const error = await rejection(
      new ExecProvider({ command: [missing] }).addTxt({ name: 'a.example.org', value: 'v' }, signal()),
    );
    assert.equal(error.failure, 'spawn');
    assert.match(error.message, /cannot run .*no-such-hook: no such program/);
  });

  it('checks its options and names only the program', () => {
    assert.throws(() => new ExecProvider({ command: [] }), TypeError);
    assert.throws(() => new ExecProvider({ command: [''] }), TypeError);
    assert.throws(() => new ExecProvider({ command: ['x'], timeoutMs: 0 }), TypeError);
    assert.throws(() => new ExecProvider({ command: ['x'], env: { TLSWARD_DNS_NAME: 'y' } }), /reserved/);
    assert.equal(
      new ExecProvider({ command: ['/usr/local/bin/hook', '--token=secret'] }).name,
      'exec /usr/local/bin/hook',
    );
  });
});
