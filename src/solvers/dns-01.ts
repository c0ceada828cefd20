// DNS-01 (RFC 8555 section 8.4): a TXT record `_acme-challenge.<domain>` holding base64url(SHA-256(key
// authorization)). A CNAME at that name is followed and the record written where it points, so names can
// delegate validation to a zone made for it. present() adds our value beside any others (a name and its
// wildcard share the record name), wait() polls the zone's authoritative servers until all show it, and
// cleanup() removes exactly our value. How the zone is changed is the DnsProvider's business.
import { createHash } from 'node:crypto';
import { getServers } from 'node:dns';
import { type Clock, systemClock } from '../util/clock.js';
import { DnsClient } from './dns/client.js';
import { RRType } from './dns/constants.js';
import { DnsError } from './dns/errors.js';
import { authoritativeTargets, type CheckTarget, targetsFromServers, waitForTxt } from './dns/propagation.js';
import type { DnsProvider } from './dns/provider.js';
import { type DnsServerAddress, parseServer } from './dns/transport.js';
import { canonicalName, sameName } from './dns/wire.js';
import { findZone, queryFirst } from './dns/zone.js';
import type { ChallengeSolver, PendingChallenge } from './solver.js';

export interface Dns01SolverOptions {
  readonly provider: DnsProvider;
  /**
   * Recursive resolvers for following CNAMEs and finding the zone and its name servers, as `host`,
   * `host:port` or `[v6]:port`. Default: the system's (node:dns getServers()).
   */
  readonly resolvers?: readonly (string | DnsServerAddress)[];
  /** Check these servers for the record instead of the zone's authoritative servers (NS lookup). */
  readonly checkServers?: readonly (string | DnsServerAddress)[];
  /** Port the zone's authoritative servers are asked on; 53 except in tests. */
  readonly nameserverPort?: number;
  /** Follow a CNAME at `_acme-challenge.<domain>` and write the record at its target. Default true. */
  readonly followCname?: boolean;
  /** Wait for the record to be visible before the CA is told to look. Default true. */
  readonly propagationCheck?: boolean;
  /** Default 2000 ms. */
  readonly pollingIntervalMs?: number;
  /** Default 120 000 ms. */
  readonly propagationTimeoutMs?: number;
  /** TTL of the TXT record, default 60 s. */
  readonly ttl?: number;
  /** Timeout of each DNS query attempt, default 3000 ms. */
  readonly queryTimeoutMs?: number;
  readonly clock?: Clock;
}

/** The name the CA queries (RFC 8555 section 8.4); a wildcard's is the same as its base name's. */
export function dns01RecordName(domain: string): string {
  return `_acme-challenge.${canonicalName(domain)}`;
}

/** The TXT value: base64url (no padding) of the SHA-256 digest of the key authorization. */
export function dns01RecordValue(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization, 'utf8').digest('base64url');
}

/** CNAME chains longer than this are treated as a loop or a misconfiguration. */
const MAX_CNAME_HOPS = 8;

interface Presented {
  /** Where the record was written (the CNAME target, if any). */
  readonly name: string;
  readonly value: string;
}

export class Dns01Solver implements ChallengeSolver {
  readonly type = 'dns-01' as const;
  readonly #options: Dns01SolverOptions;
  readonly #client: DnsClient;
  readonly #resolvers: readonly DnsServerAddress[];
  readonly #checkServers: readonly DnsServerAddress[] | undefined;
  readonly #clock: Clock;
  /** Challenges between present() and cleanup(), so cleanup removes what present() added. */
  readonly #presented = new Map<string, Presented>();

  constructor(options: Dns01SolverOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#client = new DnsClient({ timeoutMs: options.queryTimeoutMs ?? 3000, clock: this.#clock });
    const toServer = (server: string | DnsServerAddress) =>
      typeof server === 'string' ? parseServer(server) : server;
    this.#resolvers = (options.resolvers ?? getServers()).map(toServer);
    this.#checkServers = options.checkServers?.map(toServer);
    if (this.#checkServers?.length === 0) throw new TypeError('dns-01: checkServers is empty');
    if (this.#resolvers.length === 0) throw new TypeError('dns-01: no resolvers configured or found');
    for (const key of ['pollingIntervalMs', 'propagationTimeoutMs', 'queryTimeoutMs', 'ttl'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isFinite(value) && value > 0))
        throw new TypeError(`dns-01: ${key} must be a positive number, not ${value}`);
    }
  }

  async present(challenge: PendingChallenge, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (challenge.type !== 'dns-01')
      throw new TypeError(`Dns01Solver cannot present a ${challenge.type} challenge`);
    const value = dns01RecordValue(challenge.keyAuthorization);
    const name = await this.#recordTarget(challenge.domain, signal);
    // Remembered before adding, so that cleanup after a failed or aborted add still removes the value.
    this.#presented.set(keyOf(challenge), { name, value });
    await this.#options.provider.addTxt({ name, value, ttl: this.#options.ttl ?? 60 }, signal);
  }

  async wait(challenge: PendingChallenge, signal: AbortSignal): Promise<void> {
    if (this.#options.propagationCheck === false) return;
    const presented = this.#presented.get(keyOf(challenge));
    if (!presented) throw new TypeError(`dns-01: wait() for ${challenge.domain} before present()`);
    let zone: string | undefined;
    let targets: CheckTarget[];
    if (this.#checkServers) {
      targets = targetsFromServers(this.#checkServers);
    } else {
      zone = await findZone(this.#client, this.#resolvers, presented.name, signal);
      targets = await authoritativeTargets(
        this.#client,
        this.#resolvers,
        zone,
        this.#options.nameserverPort ?? 53,
        signal,
      );
    }
    await waitForTxt(
      this.#client,
      targets,
      presented.name,
      presented.value,
      {
        pollingIntervalMs: this.#options.pollingIntervalMs ?? 2000,
        propagationTimeoutMs: this.#options.propagationTimeoutMs ?? 120_000,
        clock: this.#clock,
        zone,
      },
      signal,
    );
  }

  async cleanup(challenge: PendingChallenge, signal: AbortSignal): Promise<void> {
    const key = keyOf(challenge);
    // Without a record of present() (it failed before resolving the name), removing the value at the
    // name it would have used is still right: removing an absent value is a no-op.
    const presented = this.#presented.get(key) ?? {
      name: await this.#recordTarget(challenge.domain, signal),
      value: dns01RecordValue(challenge.keyAuthorization),
    };
    try {
      await this.#options.provider.removeTxt(presented, signal);
    } finally {
      // Forgotten even on failure: the caller does not retry cleanup, and a daemon must not leak entries.
      this.#presented.delete(key);
    }
  }

  /** `_acme-challenge.<domain>`, or the end of the CNAME chain starting there. */
  async #recordTarget(domain: string, signal: AbortSignal): Promise<string> {
    let name = dns01RecordName(domain);
    if (this.#options.followCname === false) return name;
    const seen = new Set([name]);
    for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
      const reply = await this.#queryCname(name, signal);
      const target = reply.answers.flatMap((rr) =>
        rr.data.kind === 'CNAME' && sameName(rr.name, name) ? [rr.data.target] : [],
      )[0];
      if (target === undefined) return name;
      name = canonicalName(target);
      if (seen.has(name)) break;
      seen.add(name);
    }
    throw new DnsError('zone', `the CNAME chain from ${dns01RecordName(domain)} loops or is too long`, {
      record: `CNAME ${dns01RecordName(domain)}`,
    });
  }

  async #queryCname(name: string, signal: AbortSignal) {
    return (await queryFirst(this.#client, this.#resolvers, name, RRType.CNAME, signal)).reply;
  }
}

function keyOf(challenge: PendingChallenge): string {
  return `${challenge.domain}\n${challenge.wildcard}\n${challenge.keyAuthorization}`;
}
