// Proves the integration-test harness itself: Pebble starts on fresh loopback ports and serves its directory
// and management API over HTTPS with the test CA, restarts on the same ports, stops for real;
// pebble-challtestsrv answers A for any name with 127.0.0.1 and serves TXT records set over its API; and the
// process registry leaves no peer running however the test process ends.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ChallTestSrv, startChallTestSrv } from './support/challtestsrv.js';
import { fetchText } from './support/http.js';
import { type RunningPebble, startPebble } from './support/pebble.js';
import {
  canConnect,
  freePort,
  isPidAlive,
  startProcess,
  waitForPidGone,
  waitForPort,
} from './support/processes.js';

const fixture = fileURLToPath(new URL('./support/fixtures/exit-with-peers.ts', import.meta.url));

async function directory(pebble: RunningPebble): Promise<Record<string, unknown>> {
  return JSON.parse(await fetchText(pebble.directoryUrl, { ca: pebble.caPem })) as Record<string, unknown>;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('pebble', () => {
  let pebble: RunningPebble;
  before(async () => {
    pebble = await startPebble();
  });
  after(async () => {
    await pebble?.stop();
  });

  it('serves an ACME directory over HTTPS trusted by caPem', async () => {
    assert.match(pebble.directoryUrl, /^https:\/\/127\.0\.0\.1:\d+\/dir$/);
    const dir = await directory(pebble);
    for (const key of ['newNonce', 'newAccount', 'newOrder']) {
      assert.equal(typeof dir[key], 'string', `directory lacks ${key}`);
    }
    assert.ok(pebble.tlsPort > 0 && pebble.httpPort > 0 && pebble.tlsPort !== pebble.httpPort);
    await pebble.process.waitForOutput(new RegExp(`custom DNS resolver .*${pebble.dnsServer}`), 2_000);
  });

  it('exposes its root and intermediate as CA certificates', async () => {
    const root = new X509Certificate(await pebble.rootPem());
    const intermediate = new X509Certificate(await pebble.intermediatePem());
    assert.equal(root.ca, true);
    assert.equal(intermediate.ca, true);
    assert.ok(intermediate.verify(root.publicKey), 'intermediate is signed by the root');
  });

  it('restarts on the same ports with a new root', async () => {
    const before = { url: pebble.directoryUrl, mgmt: pebble.managementUrl, pid: pebble.process.pid };
    const oldRoot = await pebble.rootPem();
    await pebble.restart();
    assert.equal(pebble.directoryUrl, before.url);
    assert.equal(pebble.managementUrl, before.mgmt);
    assert.notEqual(pebble.process.pid, before.pid);
    assert.equal(isPidAlive(before.pid), false);
    assert.ok((await directory(pebble)).newOrder);
    assert.notEqual(await pebble.rootPem(), oldRoot);
  });

  it('closes its ports on stop()', async () => {
    const other = await startPebble({ nonceRejectPercent: 0 });
    const pid = other.process.pid;
    await other.stop();
    assert.equal(isPidAlive(pid), false);
    assert.equal(await canConnect(portOf(other.directoryUrl)), false);
    assert.equal(await canConnect(portOf(other.managementUrl)), false);
  });

  it('applies EAB and certificate validity options', async () => {
    const other = await startPebble({
      eabKeys: { 'kid-1': 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W' },
      certificateValidityPeriod: 3600,
    });
    try {
      const meta = (await directory(other)).meta as Record<string, unknown>;
      assert.equal(meta.externalAccountRequired, true);
      await other.process.waitForOutput(/validity period of 3600 seconds/, 2_000);
    } finally {
      await other.stop();
    }
  });
});

describe('pebble-challtestsrv', () => {
  let srv: ChallTestSrv;
  let resolver: Resolver;
  before(async () => {
    srv = await startChallTestSrv();
    resolver = new Resolver({ timeout: 2_000, tries: 2 });
    resolver.setServers([srv.dnsAddress]);
  });
  after(async () => {
    await srv?.stop();
  });

  it('answers A with 127.0.0.1 for any name and no AAAA', async () => {
    assert.deepEqual(await resolver.resolve4('anything.example.test'), ['127.0.0.1']);
    assert.deepEqual(await resolver.resolve4('deep.sub.other.invalid'), ['127.0.0.1']);
    const aaaa = await resolver.resolve6('anything.example.test').catch(() => []);
    assert.deepEqual(aaaa, []);
  });

  it('serves TXT values set over the management API, accumulating, until cleared', async () => {
    const name = '_acme-challenge.txt.example.test';
    await srv.setTxt(name, 'value-one');
    await srv.setTxt(`${name}.`, 'value-two');
    const records = (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
    assert.deepEqual(records, ['value-one', 'value-two']);
    await srv.clearTxt(name);
    const cleared = await resolver.resolveTxt(name).catch(() => []);
    assert.deepEqual(cleared, []);
  });
});

describe('processes', () => {
  it('freePort() returns a port nobody listens on', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    assert.equal(await canConnect(port), false);
  });

  it('includes the output in start-up failures', async () => {
    const proc = startProcess('pebble', ['-config', '/nonexistent/pebble.json']);
    await assert.rejects(waitForPort(await freePort(), { proc, timeoutMs: 10_000 }), (error: Error) => {
      assert.match(error.message, /pebble \[pid \d+\]: exited before/);
      assert.match(error.message, /nonexistent/);
      return true;
    });
  });

  for (const mode of ['exit', 'throw', 'signal', 'natural', 'sigkill'] as const) {
    it(`leaves no peer running when a test process ends by ${mode}`, async () => {
      const child = startProcess(process.execPath, ['--import', 'tsx', fixture, mode], {
        name: `fixture-${mode}`,
      });
      const [line] = await child.waitForOutput(/^\{.*\}$/m, 30_000);
      const pids = JSON.parse(line) as { pebblePid: number; challtestsrvPid: number; tempDirs: string[] };
      assert.ok(
        isPidAlive(pids.pebblePid) && isPidAlive(pids.challtestsrvPid),
        'peers run while the child runs',
      );
      const signals = { signal: 'SIGTERM', sigkill: 'SIGKILL' } as const;
      process.kill(child.pid, mode === 'signal' || mode === 'sigkill' ? signals[mode] : 'SIGUSR2');
      const exit = await child.exited;
      if (mode === 'sigkill') {
        for (const dir of pids.tempDirs) rmSync(dir, { recursive: true, force: true });
      } else {
        for (const dir of pids.tempDirs) assert.equal(existsSync(dir), false, `${dir} left behind`);
      }
      if (mode === 'exit' || mode === 'natural') assert.equal(exit.code, 0, child.output());
      if (mode === 'throw') assert.match(child.output(), /deliberate uncaught exception/);
      if (mode === 'signal') assert.equal(exit.signal, 'SIGTERM', child.output());
      assert.equal(await waitForPidGone(pids.pebblePid), true, `pebble ${pids.pebblePid} still running`);
      assert.equal(await waitForPidGone(pids.challtestsrvPid), true, `challtestsrv still running`);
      if (mode === 'signal' || mode === 'natural') {
        // Graceful paths stop and reap the peers before the child dies: not even a zombie is left.
        assert.equal(existsSync(`/proc/${pids.pebblePid}`), false, 'pebble left as a zombie');
        assert.equal(existsSync(`/proc/${pids.challtestsrvPid}`), false, 'challtestsrv left as a zombie');
      }
    });
  }
});
