// The handshake-rate runs of the serving benchmark: one client process (bench/serve-client.ts) against one
// running server driver, CPU time of server, client and the rest of the machine sampled over the measured
// window from /proc, so that a run slowed by someone else's work on a shared machine can be told apart.
import { performance } from 'node:perf_hooks';
import type { ClientConfig } from './serve-client.js';
import { cpuSeconds, EventChild, machineBusySeconds } from './serve-support.js';

const fmt = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(2));
const r3 = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000;

export interface LoadResult {
  perSecond: number;
  handshakes: number;
  errors: number;
  errorKinds: Record<string, number>;
  latencyP50Ms: number | undefined;
  latencyP99Ms: number | undefined;
  serverCpuShare: number | undefined;
  serverCpuUsPerHandshake: number | undefined;
  clientCpuShare: number | undefined;
  /** Cores busy with anything but this server and the client (this process, other users of the machine). */
  otherCpuShare: number | undefined;
}

/** One client run against a driver: warm-up, then a measured window. */
export async function runLoad(
  cwd: string,
  concurrency: number,
  driver: EventChild,
  port: number,
  names: number,
  warmupMs: number,
  durationMs: number,
  sweep = false,
): Promise<LoadResult> {
  const config: ClientConfig = { port, names, concurrency, warmupMs, durationMs, sweep };
  const client = new EventChild(
    process.execPath,
    ['--import', 'tsx', 'bench/serve-client.ts', JSON.stringify(config)],
    'CLIENT',
    cwd,
  );
  const limit = warmupMs + durationMs + 30_000;
  const kill = setTimeout(() => void client.stop(0), limit);
  const sample = () => ({
    at: performance.now(),
    server: cpuSeconds(driver.pid),
    client: cpuSeconds(client.pid),
    machine: machineBusySeconds(),
  });
  const start = (await client.waitFor(['window-start'], limit)) ? sample() : undefined;
  const end = (await client.waitFor(['window-end', 'result'], limit)) ? sample() : undefined;
  const result = await client.waitFor(['result'], limit);
  clearTimeout(kill);
  await client.stop(2_000);
  if (!result) throw new Error(`the client gave no result: ${client.output.trim().slice(-500)}`);
  const delta = (key: 'server' | 'client' | 'machine') =>
    start?.[key] !== undefined && end?.[key] !== undefined ? end[key]! - start[key]! : undefined;
  const windowS = start && end ? (end.at - start.at) / 1000 : durationMs / 1000;
  const server = delta('server');
  const clientCpu = delta('client');
  const machine = delta('machine');
  const handshakes = result.handshakes as number;
  const latency = result.latencyMs as { p50?: number; p99?: number };
  return {
    perSecond: result.perSecond as number,
    handshakes,
    errors: result.errors as number,
    errorKinds: result.errorKinds as Record<string, number>,
    latencyP50Ms: latency.p50,
    latencyP99Ms: latency.p99,
    serverCpuShare: server === undefined ? undefined : server / windowS,
    serverCpuUsPerHandshake:
      server === undefined || handshakes === 0 ? undefined : (server * 1e6) / handshakes,
    clientCpuShare: clientCpu === undefined ? undefined : clientCpu / windowS,
    otherCpuShare:
      machine === undefined || server === undefined || clientCpu === undefined
        ? undefined
        : Math.max(0, machine - server - clientCpu) / windowS,
  };
}

export interface Contender {
  readonly key: string;
  readonly label: string;
  readonly driver: EventChild;
  readonly port: number;
  readonly names: number;
  readonly rounds: LoadResult[];
}

/** The round with the most handshakes/s (noise from other processes only ever slows a run down). */
export function best(contender: Contender | undefined): LoadResult | undefined {
  if (!contender || contender.rounds.length === 0) return undefined;
  return contender.rounds.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
}

export function printLoad(label: string, result: LoadResult | undefined): void {
  if (!result) {
    console.log(`  ${label.padEnd(50)} n/a`);
    return;
  }
  console.log(
    `  ${label.padEnd(50)} ${result.perSecond.toFixed(0).padStart(6)}/s  ` +
      `p50 ${fmt(result.latencyP50Ms)} ms, p99 ${fmt(result.latencyP99Ms)} ms; ` +
      `server ${fmt(result.serverCpuShare)} cores, ${result.serverCpuUsPerHandshake?.toFixed(0) ?? 'n/a'} us CPU/handshake; ` +
      `client ${fmt(result.clientCpuShare)}, others ${fmt(result.otherCpuShare)} cores` +
      (result.errors ? `; errors ${result.errors} ${JSON.stringify(result.errorKinds)}` : ''),
  );
}

export function loadJson(result: LoadResult | undefined) {
  if (!result) return null;
  return {
    perSecond: r3(result.perSecond),
    handshakes: result.handshakes,
    errors: result.errors,
    latencyP50Ms: r3(result.latencyP50Ms),
    latencyP99Ms: r3(result.latencyP99Ms),
    serverCpuShare: r3(result.serverCpuShare),
    serverCpuUsPerHandshake: r3(result.serverCpuUsPerHandshake),
    clientCpuShare: r3(result.clientCpuShare),
    otherCpuShare: r3(result.otherCpuShare),
  };
}
