// Starts a real authoritative DNS server (Knot DNS, `knotd -c FILE`) on 127.0.0.1:<free port> for DNS-01
// and RFC 2136 tests: one zone file per zone (SOA, NS, `@` and `*` A 127.0.0.1, extra lines), a TSIG key
// allowed to update TXT records, `zonefile-sync: -1` and `journal-content: none` so changes live only in
// memory, and scratch storage created fresh at every start. The Debian service cannot start inside the
// container, so knotd runs as our child and is stopped by PID. Queries for assertions go through
// node:dns (c-ares), not through the code under test. `startChasingResolver` puts a tiny resolver in
// front of it for Pebble, which (like any CA) expects a recursive resolver to follow CNAMEs across
// zones, something an authoritative server such as Knot does not do.
import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RRType } from '../../../src/solvers/dns/constants.js';
import {
  decodeMessage,
  encodeMessage,
  newMessage,
  type ResourceRecord,
} from '../../../src/solvers/dns/message.js';
import { exchange } from '../../../src/solvers/dns/transport.js';
import {
  forgetTempDir,
  freePort,
  type ManagedProcess,
  removeAtExit,
  startProcess,
  waitForPort,
} from './processes.js';

export interface KnotTsigKey {
  /** Key name, e.g. `tlsward-key`. */
  name: string;
  /** Knot's name for it: hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512. */
  algorithm: string;
  /** base64 */
  secret: string;
}

export interface KnotOptions {
  /** Zones served (default `['example.test']`); an empty list gives a server that refuses everything. */
  zones?: string[];
  /** Extra zone-file lines per zone, relative to its origin, e.g. `{'example.test': ['www CNAME x.test.']}`. */
  records?: Record<string, string[]>;
  /** The key allowed to update TXT records (default: a fresh random hmac-sha256 key `tlsward-key`). */
  tsig?: KnotTsigKey;
  /** More keys with the same rights (e.g. one per TSIG algorithm). */
  extraKeys?: KnotTsigKey[];
  /** Start-up timeout in ms (default 15 s). */
  timeoutMs?: number;
}

export interface RunningKnot {
  host: '127.0.0.1';
  port: number;
  /** `127.0.0.1:PORT`, e.g. for Pebble's -dnsserver. */
  address: string;
  tsig: KnotTsigKey;
  zones: string[];
  readonly process: ManagedProcess;
  /** The TXT values at `name` (strings of each record joined), asked of this server only; [] if none. */
  txt(name: string): Promise<string[]>;
  stop(): Promise<void>;
}

function zoneFile(zone: string, extra: readonly string[]): string {
  return [
    `$ORIGIN ${zone}.`,
    '$TTL 60',
    `@ SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
    `@ NS ns1.${zone}.`,
    '@ A 127.0.0.1',
    // Pebble dials only the first address it resolves and prefers AAAA: serve A records only.
    '* A 127.0.0.1',
    'ns1 A 127.0.0.1',
    ...extra,
    '',
  ].join('\n');
}

function config(dir: string, port: number, zones: readonly string[], keys: readonly KnotTsigKey[]): string {
  const lines = [
    'server:',
    `  rundir: "${dir}"`,
    `  listen: 127.0.0.1@${port}`,
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `  storage: "${join(dir, 'storage')}"`,
    'control:',
    `  listen: "${join(dir, 'knot.sock')}"`,
    'key:',
    ...keys.flatMap((key) => [
      `  - id: ${key.name}`,
      `    algorithm: ${key.algorithm}`,
      `    secret: ${key.secret}`,
    ]),
    'acl:',
    '  - id: tsig-txt-updates',
    `    key: [${keys.map((key) => key.name).join(', ')}]`,
    '    action: update',
    '    update-type: [TXT]',
    'template:',
    '  - id: default',
    `    storage: "${join(dir, 'zones')}"`,
    '    file: "%s.zone"',
    // Never write changes back to the zone file, and keep no journal: every start is a clean slate.
    '    zonefile-sync: -1',
    '    journal-content: none',
  ];
  if (zones.length > 0) {
    lines.push('zone:');
    for (const zone of zones) lines.push(`  - domain: ${zone}`, '    acl: tsig-txt-updates');
  }
  return `${lines.join('\n')}\n`;
}

/** Starts knotd; stop() it (the exit-time registry also kills it if a test forgets). */
export async function startKnot(options: KnotOptions = {}): Promise<RunningKnot> {
  const zones = options.zones ?? ['example.test'];
  const tsig = options.tsig ?? {
    name: 'tlsward-key',
    algorithm: 'hmac-sha256',
    secret: randomBytes(32).toString('base64'),
  };
  const timeoutMs = options.timeoutMs ?? 15_000;
  const dir = mkdtempSync(join(tmpdir(), 'tlsward-knot-'));
  removeAtExit(dir);
  mkdirSync(join(dir, 'zones'));
  for (const zone of zones) {
    writeFileSync(join(dir, 'zones', `${zone}.zone`), zoneFile(zone, options.records?.[zone] ?? []));
  }

  let proc: ManagedProcess | undefined;
  let port = 0;
  for (let attempt = 1; proc === undefined; attempt++) {
    port = await freePort();
    // Fresh scratch storage at every start: no journal or timers from an earlier run.
    rmSync(join(dir, 'storage'), { recursive: true, force: true });
    mkdirSync(join(dir, 'storage'));
    const configFile = join(dir, 'knot.conf');
    writeFileSync(configFile, config(dir, port, zones, [tsig, ...(options.extraKeys ?? [])]));
    const started = startProcess('knotd', ['-c', configFile], { name: 'knotd' });
    try {
      await waitForPort(port, { timeoutMs, proc: started });
      // Zones load after the listeners are up; wait until each one answers.
      for (const zone of zones) {
        await started.waitForOutput(new RegExp(`\\[${zone.replace(/\./g, '\\.')}\\.\\] loaded`), timeoutMs);
      }
      proc = started;
    } catch (error) {
      await started.stop(1_000);
      // freePort is racy: another process may have taken the port between our check and knotd's bind.
      if (attempt >= 3 || !/cannot bind|address already in use|failed to bind/i.test(started.output()))
        throw error;
    }
  }

  const running = proc;
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    tsig,
    zones,
    process: running,
    async txt(name) {
      try {
        return (await resolver.resolveTxt(name)).map((strings) => strings.join(''));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
        throw error;
      }
    },
    async stop() {
      await running.stop();
      forgetTempDir(dir);
    },
  };
}

export interface ChasingResolver {
  /** `127.0.0.1:PORT` (UDP only), e.g. for Pebble's -dnsserver. */
  address: string;
  stop(): Promise<void>;
}

/**
 * A UDP "recursive resolver" for tests: forwards each question to `upstream` and, when the answer is
 * only a CNAME, asks again for its target (up to 8 hops) and returns the whole chain, as a real
 * resolver would. Enough for a validator's TXT lookups, nothing more.
 */
export async function startChasingResolver(upstream: {
  host: string;
  port: number;
}): Promise<ChasingResolver> {
  const socket = dgram.createSocket('udp4');
  const ask = async (name: string, type: number) => {
    const query = newMessage({ id: randomInt(0, 0x10000), questions: [{ name, type, class: 1 }] });
    const { bytes } = await exchange(
      upstream,
      encodeMessage(query),
      { protocol: 'udp', timeoutMs: 2_000 },
      AbortSignal.timeout(5_000),
    );
    return decodeMessage(bytes);
  };
  const answer = async (packet: Buffer): Promise<Buffer> => {
    const request = decodeMessage(packet);
    const question = request.questions[0];
    if (!question) throw new Error('no question');
    let reply = await ask(question.name, question.type);
    const answers: ResourceRecord[] = [...reply.answers];
    let name = question.name;
    for (let hop = 0; hop < 8 && question.type !== RRType.CNAME; hop++) {
      if (answers.some((rr) => rr.type === question.type && rr.name.toLowerCase() === name.toLowerCase()))
        break;
      const alias = answers.find(
        (rr) => rr.data.kind === 'CNAME' && rr.name.toLowerCase() === name.toLowerCase(),
      );
      if (alias?.data.kind !== 'CNAME') break;
      name = alias.data.target;
      reply = await ask(name, question.type);
      answers.push(...reply.answers);
    }
    return encodeMessage({
      ...reply,
      id: request.id,
      qr: true,
      aa: false,
      ra: true,
      rd: request.rd,
      questions: request.questions,
      answers,
      edns: request.edns,
    });
  };
  socket.on('message', (packet, peer) => {
    answer(packet).then(
      (response) => socket.send(response, peer.port, peer.address),
      () => {}, // A broken question gets no answer; the client times out, as with a real resolver.
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
