// A DNS provider that changes zones with RFC 2136 dynamic updates, signed with TSIG (RFC 8945), sent to
// one server (usually the primary). Each change is one UPDATE with no prerequisites: adding a TXT
// record (class IN) keeps the other values of the set, and removal names the exact value (class NONE,
// TTL 0), so concurrent challenges for a name and its wildcard never remove each other's value.
import type { Clock } from '../../util/clock.js';
import { DnsClient } from './client.js';
import { RRClass, RRType } from './constants.js';
import { DnsError } from './errors.js';
import { type ResourceRecord, txtStrings } from './message.js';
import type { DnsProvider, TxtRecord } from './provider.js';
import { type DnsProtocol, type DnsServerAddress, formatServer } from './transport.js';
import { type TsigAlgorithm, TsigKey } from './tsig.js';
import { canonicalName, isSubdomain } from './wire.js';
import { findZone } from './zone.js';

export interface Rfc2136ProviderOptions {
  /** The server that accepts updates (an IP address or a host name). */
  readonly host: string;
  /** Default 53. */
  readonly port?: number;
  /** 'udp' (default; TCP when an answer is truncated) or 'tcp' only. */
  readonly protocol?: DnsProtocol;
  /** TSIG key name as configured on the server. Omit with `secret` only for servers that allow unsigned updates. */
  readonly keyName?: string;
  /** The shared secret, base64. */
  readonly secret?: string;
  /** Default 'hmac-sha256'. */
  readonly algorithm?: TsigAlgorithm | string;
  /** The zone to update; found by SOA queries to `host` when absent. */
  readonly origin?: string;
  /** TTL of added records; default 60 s, so that a stale answer does not outlive the challenge for long. */
  readonly ttl?: number;
  /** Per attempt; default 3000 ms. */
  readonly timeoutMs?: number;
  /** Time source for TSIG signatures (tests). */
  readonly clock?: Clock;
}

export class Rfc2136Provider implements DnsProvider {
  readonly name: string;
  readonly server: DnsServerAddress;
  readonly origin: string | undefined;
  readonly #key: TsigKey | undefined;
  readonly #client: DnsClient;
  readonly #ttl: number;

  constructor(options: Rfc2136ProviderOptions) {
    if (!options.host) throw new TypeError('rfc2136: a server host is required');
    if ((options.keyName === undefined) !== (options.secret === undefined))
      throw new TypeError('rfc2136: give both a TSIG key name and its secret, or neither');
    this.server = { host: options.host, port: options.port ?? 53 };
    if (!Number.isInteger(this.server.port) || this.server.port < 1 || this.server.port > 65535)
      throw new TypeError(`rfc2136: invalid port ${options.port}`);
    this.name = `rfc2136 ${formatServer(this.server)}`;
    this.origin = options.origin === undefined ? undefined : canonicalName(options.origin);
    this.#key =
      options.keyName !== undefined && options.secret !== undefined
        ? new TsigKey(options.keyName, options.algorithm ?? 'hmac-sha256', options.secret)
        : undefined;
    this.#ttl = options.ttl ?? 60;
    this.#client = new DnsClient({
      protocol: options.protocol ?? 'udp',
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  async addTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    await this.#update(record, 'add', signal);
  }

  async removeTxt(record: TxtRecord, signal: AbortSignal): Promise<void> {
    await this.#update(record, 'remove', signal);
  }

  /**
   * One UPDATE with one RR. Adding uses class IN; removing uses class NONE with TTL 0, which deletes
   * exactly this value (RFC 2136 section 2.5.4) and is a no-op when it is absent.
   */
  async #update(record: TxtRecord, change: 'add' | 'remove', signal: AbortSignal): Promise<void> {
    const zone = await this.zoneFor(record, signal);
    const add = change === 'add';
    const rr: ResourceRecord = {
      name: record.name,
      type: RRType.TXT,
      class: add ? RRClass.IN : RRClass.NONE,
      ttl: add ? (record.ttl ?? this.#ttl) : 0,
      data: { kind: 'TXT', strings: txtStrings(record.value) },
    };
    await this.#client.update(
      this.server,
      zone,
      [rr],
      this.#key,
      {
        action: `${add ? 'adding' : 'removing'} TXT "${record.value}" at ${record.name}`,
        record: `TXT ${record.name}`,
      },
      signal,
    );
  }

  /** The zone an update for `record` goes to: the record's own, the configured origin, or discovered. */
  async zoneFor(record: Pick<TxtRecord, 'name' | 'zone'>, signal: AbortSignal): Promise<string> {
    const zone = record.zone ?? this.origin;
    if (zone !== undefined) {
      if (!isSubdomain(record.name, zone))
        throw new DnsError('zone', `${record.name} is not inside zone ${zone} (${this.name})`, {
          server: formatServer(this.server),
          zone,
          record: `TXT ${record.name}`,
        });
      return canonicalName(zone);
    }
    // The update server is authoritative, so it is the one to ask; recursion is neither needed nor wanted.
    return findZone(this.#client, [this.server], record.name, signal, { recursive: false });
  }
}
