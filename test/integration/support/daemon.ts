// Running the real daemon (`node bin/tlsward.js serve`, built by npm run build) as a child process:
// its JSON log lines are parsed so tests can wait for what it did, and signals go to it by PID. Also what
// tests of a running daemon share: the "certificate installed" log predicate, a TLS client that reads the
// served certificate, and a TCP echo server to stand behind a tcp-proxy listener.
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { TLSWARD_BIN } from './cli.js';
import { type ManagedProcess, removeAtExit, startProcess } from './processes.js';

export interface LogEntry {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface RunningDaemon {
  readonly process: ManagedProcess;
  readonly configFile: string;
  /** Every log entry so far. */
  logs(): LogEntry[];
  /** Resolves with the first entry (seen or future) matching `predicate`; rejects after the timeout. */
  waitForLog(predicate: (entry: LogEntry) => boolean, timeoutMs?: number, after?: number): Promise<LogEntry>;
  /** Replaces the configuration file and sends SIGHUP. */
  reload(configText: string): Promise<void>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** A log predicate: a certificate was installed (by the provider named, or by any when none is). */
export function installed(provider?: string): (entry: LogEntry) => boolean {
  return (entry) =>
    entry.msg === 'certificate installed' && (provider === undefined || entry.provider === provider);
}

/** Writes `configText` to a temp folder and starts `tlsward serve` on it. */
export async function startDaemon(
  configText: string,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<RunningDaemon> {
  const folder = await mkdtemp(join(tmpdir(), 'tlsward-daemon-'));
  removeAtExit(folder);
  const configFile = join(folder, 'tlsward.toml');
  await writeFile(configFile, configText);
  const child = startProcess(
    process.execPath,
    [
      TLSWARD_BIN,
      'serve',
      '--config',
      configFile,
      '--log-format',
      'json',
      '--log-level',
      'debug',
      '--drain',
      '2',
      ...(options.args ?? []),
    ],
    { name: 'tlsward serve', env: { ...process.env, ...options.env } as Record<string, string> },
  );
  const entries: LogEntry[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  child.child.stderr?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        entries.push(JSON.parse(line) as LogEntry);
      } catch {
        entries.push({ level: 0, msg: line });
      }
    }
    for (const wake of waiters) wake();
  });

  const daemon: RunningDaemon = {
    process: child,
    configFile,
    logs: () => [...entries],
    waitForLog(predicate, timeoutMs = 30_000, after = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = entries.slice(after).find(predicate);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `no matching log entry within ${timeoutMs} ms; log:\n${entries
                .map((e) => JSON.stringify(e))
                .join('\n')
                .slice(-6000)}`,
            ),
          );
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(
            new Error(
              `the daemon exited; log:\n${entries
                .map((e) => JSON.stringify(e))
                .join('\n')
                .slice(-6000)}`,
            ),
          );
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.child.off('exit', onExit);
        };
        waiters.add(check);
        child.child.once('exit', onExit);
        check();
      });
    },
    async reload(configText: string) {
      await writeFile(configFile, configText);
      child.child.kill('SIGHUP');
    },
    async stop() {
      if (child.exitInfo) return child.exitInfo.code;
      child.child.kill('SIGTERM');
      const exit = await child.exited;
      return exit.code;
    },
  };
  return daemon;
}

/** The certificate a TLS client gets from `port` for `servername` (no verification). */
export function peerCertificate(
  port: number,
  servername?: string,
): Promise<tls.PeerCertificate & { raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false },
      () => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        resolve(cert);
      },
    );
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('error', reject);
  });
}

/** A plain TCP echo server standing in for the service behind the proxy. */
export async function echoServer(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}
