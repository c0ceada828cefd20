// Waiting until a TXT value is visible where the CA will look: on every authoritative server of the
// zone (found by an NS lookup and the servers' addresses), or on an explicit list of servers. Asking the
// authoritative servers directly avoids resolver caches, which could hold a negative answer for the
// record's TTL; once every server shows the value, any resolver asking afresh will get it.
import type { Clock } from '../../util/clock.js';
import type { DnsClient } from './client.js';
import { Rcode, RRType, rcodeName } from './constants.js';
import { DnsError, DnsPropagationError, type LaggingServer } from './errors.js';
import { type ResourceRecord, txtValue } from './message.js';
import { type DnsServerAddress, formatServer } from './transport.js';
import { canonicalName, sameName } from './wire.js';
import { queryFirst } from './zone.js';

/** A server to check: a name for messages and the addresses it can be reached at (any one will do). */
export interface CheckTarget {
  readonly label: string;
  readonly addresses: readonly DnsServerAddress[];
}

export function targetsFromServers(servers: readonly DnsServerAddress[]): CheckTarget[] {
  return servers.map((server) => ({ label: formatServer(server), addresses: [server] }));
}

/**
 * The zone's authoritative servers: its NS records (asked of `resolvers`), each with its addresses from
 * the answer's glue or from A (then AAAA) lookups. `port` is where they are asked (53 outside tests).
 */
export async function authoritativeTargets(
  client: DnsClient,
  resolvers: readonly DnsServerAddress[],
  zone: string,
  port: number,
  signal: AbortSignal,
): Promise<CheckTarget[]> {
  const { reply } = await queryFirst(client, resolvers, zone, RRType.NS, signal);
  const hosts = reply.answers.flatMap((rr) =>
    rr.data.kind === 'NS' && sameName(rr.name, zone) ? [canonicalName(rr.data.target)] : [],
  );
  if (reply.rcode !== Rcode.NOERROR || hosts.length === 0) {
    throw new DnsError('zone', `no NS records for zone ${zone} (${rcodeName(reply.rcode)})`, { zone });
  }
  const targets: CheckTarget[] = [];
  for (const host of [...new Set(hosts)].sort()) {
    let addresses = glueFor(reply.additionals, host);
    for (const type of [RRType.A, RRType.AAAA]) {
      if (addresses.length > 0) break;
      const lookup = await queryFirst(client, resolvers, host, type, signal);
      addresses = glueFor(lookup.reply.answers, host);
    }
    if (addresses.length === 0)
      throw new DnsError('zone', `the name server ${host} of zone ${zone} has no address`, { zone });
    const servers = addresses.map((address) => ({ host: address, port }));
    targets.push({ label: `${host} (${servers.map(formatServer).join(', ')})`, addresses: servers });
  }
  return targets;
}

function glueFor(records: readonly ResourceRecord[], host: string): string[] {
  return records.flatMap((rr) =>
    (rr.data.kind === 'A' || rr.data.kind === 'AAAA') && sameName(rr.name, host) ? [rr.data.address] : [],
  );
}

export interface PropagationOptions {
  readonly pollingIntervalMs: number;
  readonly propagationTimeoutMs: number;
  readonly clock: Clock;
  /** For the error: the zone the record is in, if known. */
  readonly zone?: string | undefined;
}

/**
 * Polls until every target answers TXT `name` with `value` among its values. A target that has shown
 * the value is not asked again. Throws DnsPropagationError naming the lagging targets on timeout.
 */
export async function waitForTxt(
  client: DnsClient,
  targets: readonly CheckTarget[],
  name: string,
  value: string,
  options: PropagationOptions,
  signal: AbortSignal,
): Promise<void> {
  const { clock } = options;
  const deadline = clock.now() + options.propagationTimeoutMs;
  let lagging = [...targets];
  let reasons = new Map<CheckTarget, string>();
  for (;;) {
    const results = await Promise.all(
      lagging.map((target) => checkTarget(client, target, name, value, signal)),
    );
    reasons = new Map(lagging.map((target, i) => [target, results[i]!] as const));
    lagging = lagging.filter((_, i) => results[i] !== undefined);
    if (lagging.length === 0) return;
    const left = deadline - clock.now();
    if (left <= 0) {
      const list: LaggingServer[] = lagging.map((target) => ({
        server: target.label,
        reason: reasons.get(target) ?? 'not checked',
      }));
      throw new DnsPropagationError(
        `TXT ${name} "${value}"`,
        options.zone,
        options.propagationTimeoutMs,
        list,
      );
    }
    await clock.sleep(Math.min(options.pollingIntervalMs, left), signal);
  }
}

/** undefined when the target shows the value; otherwise why not, for the timeout message. */
async function checkTarget(
  client: DnsClient,
  target: CheckTarget,
  name: string,
  value: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  let reply: Awaited<ReturnType<typeof queryFirst>>['reply'];
  try {
    ({ reply } = await queryFirst(client, target.addresses, name, RRType.TXT, signal, { recursive: false }));
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof DnsError) return error.kind === 'timeout' ? 'no answer' : error.message;
    throw error;
  }
  if (reply.rcode !== Rcode.NOERROR) return rcodeName(reply.rcode);
  const values = reply.answers.filter((rr) => sameName(rr.name, name)).flatMap((rr) => txtValue(rr) ?? []);
  if (values.includes(value)) return undefined;
  return values.length === 0 ? 'no TXT record yet' : `${values.length} other TXT value(s), not ours`;
}
