// The dns-01 part of an `[acme."<id>"]` table: `provider` and the keys of that provider, written flat in
// the provider table as in Stalwart (`provider = "rfc2136-tsig"`, `host`, `port`, `protocol`, `key`,
// `secret`, `tsig-algorithm`, `origin`, `polling-interval`, `propagation-timeout`; `command` for exec;
// `secret` as the API token for cloudflare).
import { isHost, parseHostPort } from './addresses.js';
import {
  DEFAULT_DNS_PORT,
  DEFAULT_POLLING_INTERVAL_MS,
  DEFAULT_PROPAGATION_TIMEOUT_MS,
  DNS_PROVIDERS,
  type DnsProviderConfig,
  type DnsProviderName,
  type HostPort,
  TSIG_ALGORITHMS,
} from './model.js';
import type { TableReader } from './reader.js';

/** Keys that only mean something with dns-01 (`port` is shared with tls-alpn-01 and http-01). */
export const DNS_KEYS = [
  'provider',
  'host',
  'protocol',
  'key',
  'secret',
  'tsig-algorithm',
  'origin',
  'polling-interval',
  'propagation-timeout',
  'resolvers',
  'nameservers',
  'command',
] as const;

/** Keys every DNS provider takes. */
const COMMON_DNS_KEYS = new Set([
  'provider',
  'polling-interval',
  'propagation-timeout',
  'resolvers',
  'nameservers',
]);

const PROVIDER_KEYS: Record<DnsProviderName, readonly string[]> = {
  'rfc2136-tsig': ['host', 'port', 'protocol', 'key', 'secret', 'tsig-algorithm', 'origin'],
  exec: ['command'],
  cloudflare: ['secret'],
};

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const ARGV_HINT = 'an argv list run without a shell, e.g. ["/usr/local/bin/dns-hook"]';

export interface DnsResult {
  readonly dns: DnsProviderConfig | undefined;
  /** True when `port` was read as the DNS server's port (rfc2136-tsig). */
  readonly usesPort: boolean;
}

/** Reads the DNS provider of a table whose challenges include dns-01. */
export function readDnsProvider(r: TableReader): DnsResult {
  if (!r.has('provider')) {
    r.error('provider', `missing: dns-01 needs a provider: ${DNS_PROVIDERS.map((p) => `"${p}"`).join(', ')}`);
    for (const key of DNS_KEYS) r.raw(key);
    return { dns: undefined, usesPort: false };
  }
  const provider = r.oneOf('provider', DNS_PROVIDERS, 'DNS provider');
  if (provider === undefined) {
    for (const key of DNS_KEYS) r.raw(key); // already reported; do not pile up "not used" errors
    return { dns: undefined, usesPort: false };
  }
  for (const key of DNS_KEYS) {
    if (!COMMON_DNS_KEYS.has(key)) {
      if (!PROVIDER_KEYS[provider].includes(key)) {
        r.reject(
          key,
          `is not used by provider = "${provider}" (it takes ${PROVIDER_KEYS[provider].join(', ')})`,
        );
      }
    }
  }
  const pollingIntervalMs = positive(r, 'polling-interval') ?? DEFAULT_POLLING_INTERVAL_MS;
  const propagationTimeoutMs = positive(r, 'propagation-timeout') ?? DEFAULT_PROPAGATION_TIMEOUT_MS;
  const timing = {
    pollingIntervalMs,
    propagationTimeoutMs,
    resolvers: dnsServers(r, 'resolvers'),
    nameservers: dnsServers(r, 'nameservers'),
  };

  switch (provider) {
    case 'rfc2136-tsig': {
      const present = [
        r.require('host', 'the DNS server to send updates to'),
        r.require('key', 'the TSIG key name'),
      ];
      present.push(r.require('secret', 'the TSIG secret (base64)'));
      const host = r.string('host');
      if (host !== undefined && !isHost(host)) {
        r.error(
          'host',
          `${r.problems.show(r.at('host'), host)} is not an IP address or host name (the port goes in port)`,
        );
      }
      const secret = base64(r, 'secret');
      const origin = readOrigin(r);
      const dns: DnsProviderConfig = {
        provider,
        host: host ?? '',
        port: r.port('port') ?? DEFAULT_DNS_PORT,
        protocol: r.oneOf('protocol', ['udp', 'tcp'] as const, 'protocol') ?? 'udp',
        keyName: r.string('key') ?? '',
        secret: secret ?? '',
        tsigAlgorithm: r.oneOf('tsig-algorithm', TSIG_ALGORITHMS, 'TSIG algorithm') ?? 'hmac-sha256',
        origin,
        ...timing,
      };
      return { dns: present.every(Boolean) ? dns : undefined, usesPort: true };
    }
    case 'exec': {
      if (!r.require('command', `the program that sets the TXT record, as ${ARGV_HINT}`)) {
        return { dns: undefined, usesPort: false };
      }
      const command = r.stringList('command', { single: false, what: 'argument', hint: ARGV_HINT });
      if (command === undefined) return { dns: undefined, usesPort: false };
      const [first, ...rest] = command.map((element) => element.value);
      if (first === undefined) {
        r.error('command', `must not be empty: ${ARGV_HINT}`);
        return { dns: undefined, usesPort: false };
      }
      return { dns: { provider, command: [first, ...rest], ...timing }, usesPort: false };
    }
    case 'cloudflare': {
      if (!r.require('secret', 'the Cloudflare API token (Zone.DNS edit permission)')) {
        return { dns: undefined, usesPort: false };
      }
      const secret = r.string('secret');
      return { dns: secret === undefined ? undefined : { provider, secret, ...timing }, usesPort: false };
    }
  }
}

/** A list of DNS servers, `host` or `host:port` (`[v6]:port`); port 53 when not given. */
function dnsServers(r: TableReader, key: string): HostPort[] | undefined {
  const elements = r.stringList(key, {
    single: true,
    what: 'DNS server',
    hint: 'e.g. ["192.0.2.53", "[2001:db8::53]:53"]',
  });
  if (!elements) return undefined;
  const servers: HostPort[] = [];
  for (const element of elements) {
    const text = element.value.trim();
    const withPort = isHost(text)
      ? text.includes(':')
        ? `[${text}]:${DEFAULT_DNS_PORT}`
        : `${text}:${DEFAULT_DNS_PORT}`
      : text;
    const parsed = parseHostPort(withPort);
    if (parsed.ok) servers.push(parsed.value);
    else r.error(key, `${JSON.stringify(text)}: ${parsed.reason}`);
  }
  return servers.length === elements.length ? servers : undefined;
}

function positive(r: TableReader, key: string): number | undefined {
  const ms = r.duration(key);
  if (ms === 0) {
    r.error(key, 'must be longer than 0');
    return undefined;
  }
  return ms;
}

function base64(r: TableReader, key: string): string | undefined {
  const value = r.string(key);
  if (value !== undefined && !BASE64.test(value.trim())) {
    r.error(key, 'is not base64 (the value is not shown because it is a secret)');
    return undefined;
  }
  return value?.trim();
}

function readOrigin(r: TableReader): string | undefined {
  const text = r.string('origin');
  const origin = text === undefined ? undefined : r.domain('origin', text);
  if (origin?.startsWith('*.')) {
    r.error('origin', 'a zone name cannot be a wildcard');
    return undefined;
  }
  return origin;
}
