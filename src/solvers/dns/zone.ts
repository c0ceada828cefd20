// Finding the zone that holds a name (its apex), by asking for SOA records from the name upwards, and
// asking a list of servers in turn so that one unreachable server does not fail the lookup.
import type { DnsClient, QueryOptions } from './client.js';
import { Rcode, RRType } from './constants.js';
import { DnsError } from './errors.js';
import type { DecodedMessage } from './message.js';
import { type DnsServerAddress, formatServer } from './transport.js';
import { canonicalName, isSubdomain, parentName, sameName } from './wire.js';

/**
 * Asks the servers in order until one answers (any RCODE counts as an answer); a server that cannot be
 * reached or times out passes the question on to the next. Throws the last failure if none answers.
 */
export async function queryFirst(
  client: DnsClient,
  servers: readonly DnsServerAddress[],
  name: string,
  type: number,
  signal: AbortSignal,
  options: QueryOptions = {},
): Promise<{ reply: DecodedMessage; server: DnsServerAddress }> {
  if (servers.length === 0) throw new TypeError('no DNS servers to ask');
  let lastError: unknown;
  for (const server of servers) {
    try {
      return { reply: await client.query(server, name, type, signal, options), server };
    } catch (error) {
      signal.throwIfAborted();
      if (!(error instanceof DnsError) || (error.kind !== 'network' && error.kind !== 'timeout')) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * The apex of the zone holding `name`: the closest enclosing name that has an SOA record. A negative
 * answer carries the zone's SOA in its authority section (RFC 2308), which ends the walk early; a
 * REFUSED answer (the server serves no zone there) moves one label up.
 */
export async function findZone(
  client: DnsClient,
  servers: readonly DnsServerAddress[],
  name: string,
  signal: AbortSignal,
  options: QueryOptions = {},
): Promise<string> {
  let candidate: string | undefined = canonicalName(name);
  const asked: string[] = [];
  while (candidate !== undefined && candidate !== '') {
    const { reply } = await queryFirst(client, servers, candidate, RRType.SOA, signal, options);
    asked.push(candidate);
    if (reply.rcode === Rcode.NOERROR) {
      if (reply.answers.some((rr) => rr.type === RRType.SOA && sameName(rr.name, candidate!)))
        return candidate;
    }
    const aliased = reply.answers.some((rr) => rr.type === RRType.CNAME);
    if (!aliased && (reply.rcode === Rcode.NOERROR || reply.rcode === Rcode.NXDOMAIN)) {
      const soa = reply.authorities.find((rr) => rr.type === RRType.SOA && isSubdomain(candidate!, rr.name));
      if (soa) return canonicalName(soa.name);
    }
    candidate = parentName(candidate);
  }
  throw new DnsError(
    'zone',
    `no zone holding ${name} found at ${servers.map(formatServer).join(', ')} (asked SOA for ${asked.join(', ')})`,
    { server: servers.map(formatServer).join(', '), record: name },
  );
}
