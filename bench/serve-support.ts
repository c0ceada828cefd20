// Tools for the serving benchmark: a long-running child speaking `PREFIX {json}` lines (spawned in its
// own process group, SIGKILLed by PID if the benchmark exits), a one-off TLS handshake probe for
// start-up timing, a loopback echo backend, CPU and memory figures from /proc, and a CPU profile summary.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';

export type JsonEvent = { event: string; t: number; [key: string]: unknown };

const live = new Set<number>();
/** SIGKILLs the process group of every child still running (only PIDs started here). */
export function killLiveChildren(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
process.on('exit', killLiveChildren);

/** A child whose `PREFIX {json}` stdout lines are events; other output is kept (the tail) for errors. */
export class EventChild {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly spawnedAt = performance.now();
  readonly events: (JsonEvent & { receivedAt: number })[] = [];
  #waiters = new Set<() => void>();
  #output = '';
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;

  constructor(command: string, args: readonly string[], prefix: string, cwd: string) {
    this.process = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (this.process.pid === undefined) throw new Error(`cannot spawn ${command}`);
    this.pid = this.process.pid;
    live.add(this.pid);
    const marker = `${prefix} `;
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      if (line.startsWith(marker)) {
        try {
          this.events.push({
            ...(JSON.parse(line.slice(marker.length)) as JsonEvent),
            receivedAt: performance.now(),
          });
        } catch {
          this.#keep(line);
        }
        this.#wake();
      } else this.#keep(line);
    });
    this.process.stderr!.on('data', (chunk: Buffer) => this.#keep(chunk.toString('utf8')));
    this.process.stdin!.on('error', () => {}); // writing to a child that died
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this.pid);
        this.#wake();
        resolve();
      });
    });
  }

  #keep(text: string): void {
    this.#output = (this.#output + text + (text.endsWith('\n') ? '' : '\n')).slice(-8_000);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  get output(): string {
    return this.#output;
  }

  get exit() {
    return this.#exit;
  }

  last(event: string): (JsonEvent & { receivedAt: number }) | undefined {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]!.event === event) return this.events[i];
    return undefined;
  }

  /** The first event named one of `names` at index >= `from`, or undefined after `timeoutMs` or exit. */
  async waitFor(
    names: readonly string[],
    timeoutMs: number,
    from = 0,
  ): Promise<(JsonEvent & { receivedAt: number }) | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => names.includes(e.event));
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0 || this.#exit) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      }).finally(() => this.#waiters.clear());
    }
  }

  send(command: string): void {
    if (!this.#exit) this.process.stdin!.write(`${command}\n`);
  }

  /** Asks it to exit; SIGKILLs the group after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.#exit) return;
    this.send('exit');
    const timer = setTimeout(() => {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Tries TLS handshakes with `servername` until one completes, every `intervalMs`, until `deadline`
 * (performance.now() time). Resolves with the performance.now() of the first 'secureConnect', or undefined.
 */
export async function firstHandshake(
  port: number,
  servername: string,
  deadline: number,
  giveUp: () => boolean = () => false,
  intervalMs = 20,
): Promise<number | undefined> {
  for (let attempt = 0; attempt < 1_000_000 && performance.now() < deadline && !giveUp(); attempt++) {
    const at = await new Promise<number | undefined>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
      const timer = setTimeout(() => socket.destroy(), 2_000);
      let done: number | undefined;
      socket.once('secureConnect', () => {
        done = performance.now();
        socket.destroy();
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(done);
      });
    });
    if (at !== undefined) return at;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return undefined;
}

/** A loopback backend for the relays: echoes bytes, closes when the other side does. */
export async function startEchoServer(): Promise<{ port: number; connections: () => number; close(): void }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** A port free right now on 127.0.0.1 (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** User + system CPU seconds of a live process (all its threads), from /proc. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine has been busy (all cores, every process), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------- CPU profile summary

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Where the time was spent, leaf frames (self time). */
  self: { name: string; ms: number }[];
  /** Time inside each tlsward function (src/) and its callees. */
  inclusive: { name: string; ms: number }[];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '');
  const at = file.includes('/src/')
    ? `src/${file.split('/src/')[1]}:${lineNumber + 1}`
    : file.startsWith('node:')
      ? file
      : file.split('/').slice(-1)[0];
  return `${functionName || '(anonymous)'}${at ? ` ${at}` : ''}`;
}

export function summarizeProfile(path: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const timeOf = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    timeOf.set(profile.samples[i]!, (timeOf.get(profile.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, dt] of timeOf) {
    const leaf = byId.get(id)!;
    const leafName = frameName(leaf);
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      if (!node.callFrame.url.includes('/src/')) continue;
      const name = frameName(node);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    }
  }
  const list = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000 }));
  return { totalMs: total / 1000, self: list(self), inclusive: list(inclusive) };
}
