// The validated, typed daemon configuration. Defaults are resolved here (durations in ms, ports as numbers,
// contacts with `mailto:`, normalized domain names), and unions keep impossible combinations out: a DNS
// provider exists only on a dns-01 challenge, an upstream only on a tcp-proxy listener, and so on.
import type { KeyType } from '../../crypto/keys.js';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
export const DEFAULT_RENEW_BEFORE_MS = 30 * 86_400_000;
export const DEFAULT_TLS_ALPN_PORT = 443;
export const DEFAULT_HTTP_PORT = 80;
export const DEFAULT_DNS_PORT = 53;
export const DEFAULT_POLLING_INTERVAL_MS = 2_000;
export const DEFAULT_PROPAGATION_TIMEOUT_MS = 2 * 60_000;

export const DNS_PROVIDERS = ['rfc2136-tsig', 'exec', 'cloudflare'] as const;
export type DnsProviderName = (typeof DNS_PROVIDERS)[number];

export const TSIG_ALGORITHMS = [
  'hmac-sha256',
  'hmac-sha512',
  'hmac-sha384',
  'hmac-sha224',
  'hmac-sha1',
] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

/** Listener protocols tlsward serves today. */
export const SERVED_PROTOCOLS = ['tcp-proxy', 'acme', 'http'] as const;
export type ServedProtocol = (typeof SERVED_PROTOCOLS)[number];
/** Stalwart's mail protocols: accepted in the file, but not served yet (the daemon refuses to start them). */
export const MAIL_PROTOCOLS = ['smtp', 'lmtp', 'imap', 'pop3', 'managesieve'] as const;
export type MailProtocol = (typeof MAIL_PROTOCOLS)[number];
export const LISTENER_PROTOCOLS = [...SERVED_PROTOCOLS, ...MAIL_PROTOCOLS] as const;
export type ListenerProtocol = ServedProtocol | MailProtocol;

export const PROXY_PROTOCOL_VERSIONS = ['v1', 'v2'] as const;
export type ProxyProtocolVersion = (typeof PROXY_PROTOCOL_VERSIONS)[number];
export const SNI_FALLBACKS = ['default', 'refuse'] as const;
/** What a listener does when the client sends no SNI or a name no certificate covers. */
export type SniFallback = (typeof SNI_FALLBACKS)[number];

export interface DaemonConfig {
  /** Absolute path of the file this was loaded from. */
  readonly file: string;
  readonly server: ServerConfig;
  /** ACME providers by id (`[acme."<id>"]`), in file order. */
  readonly acme: ReadonlyMap<string, AcmeProviderConfig>;
  /** Static certificates by id (`[certificate."<id>"]`), in file order. */
  readonly certificates: ReadonlyMap<string, StaticCertificateConfig>;
  /** Listeners by id (`[server.listener."<id>"]`), in file order. */
  readonly listeners: ReadonlyMap<string, ListenerConfig>;
}

export interface ServerConfig {
  /** Normalized; the default `domains` of ACME providers. */
  readonly hostname: string | undefined;
  readonly tls: {
    /** `server.tls.acme`: the provider whose certificates listeners use unless they say otherwise. */
    readonly acme: string | undefined;
    /** `server.tls.certificate`: a static certificate listeners use unless they say otherwise. */
    readonly certificate: string | undefined;
  };
}

export interface AcmeProviderConfig {
  readonly id: string;
  readonly directory: string;
  /** Each with a URL scheme (`mailto:` added to bare addresses). Empty when none is given. */
  readonly contact: readonly string[];
  /** Absolute folder for the account, keys and certificates; undefined = the daemon's default storage. */
  readonly cache: string | undefined;
  readonly renewBeforeMs: number;
  /** In order of preference; never empty, no type twice. */
  readonly challenges: readonly [ChallengeConfig, ...ChallengeConfig[]];
  /** Normalized (IDNA, lowercase), duplicates removed, first is primary; wildcards only with dns-01. */
  readonly domains: readonly [string, ...string[]];
  /** This certificate also answers clients that send no SNI. At most one default in the whole file. */
  readonly default: boolean;
  readonly eab: ExternalAccountBinding | undefined;
  readonly keyType: KeyType;
  /** `reuse-key`: keep the private key across renewals (TLSA 3 1 1 / DANE pinning). */
  readonly reuseKey: boolean;
  /** Issuer common name of the alternate chain to prefer. */
  readonly preferredChain: string | undefined;
  /** Absolute path of PEM CA certificates to trust for the directory's HTTPS (a private CA). */
  readonly caFile: string | undefined;
  /** Absolute folder template to export certificates to; `%{name}%` is left for the daemon to fill. */
  readonly exportPath: string | undefined;
  /** Owner of the exported files (`export-user`, `export-group`); the key is 0640 when a group is set. */
  readonly exportOwner: { readonly uid: number | undefined; readonly gid: number | undefined };
  /** Command run after each renewal, as argv (no shell). */
  readonly onRenew: readonly [string, ...string[]] | undefined;
}

export interface ExternalAccountBinding {
  readonly kid: string;
  /** base64url, as the CA hands it out. Secret. */
  readonly hmacKey: string;
}

export type ChallengeConfig =
  /** `port`: where the daemon answers acme-tls/1 (the CA always connects to 443; a proxy may forward). */
  | { readonly type: 'tls-alpn-01'; readonly port: number }
  /** `port`: where the daemon answers HTTP-01 when no `http` listener does (the CA connects to 80). */
  | { readonly type: 'http-01'; readonly port: number }
  | { readonly type: 'dns-01'; readonly dns: DnsProviderConfig };

export type ChallengeTypeName = ChallengeConfig['type'];

interface DnsTiming {
  readonly pollingIntervalMs: number;
  readonly propagationTimeoutMs: number;
  /** `resolvers`: recursive resolvers for CNAME, zone and NS lookups; default the system's. */
  readonly resolvers: readonly HostPort[] | undefined;
  /** `nameservers`: check these servers for propagation instead of the zone's NS records. */
  readonly nameservers: readonly HostPort[] | undefined;
}

export type DnsProviderConfig =
  | (DnsTiming & {
      readonly provider: 'rfc2136-tsig';
      readonly host: string;
      readonly port: number;
      readonly protocol: 'udp' | 'tcp';
      /** TSIG key name (`key`). */
      readonly keyName: string;
      /** TSIG secret, base64. Secret. */
      readonly secret: string;
      readonly tsigAlgorithm: TsigAlgorithm;
      /** Zone to update; undefined = found by walking up the name with SOA queries. */
      readonly origin: string | undefined;
    })
  | (DnsTiming & { readonly provider: 'exec'; readonly command: readonly [string, ...string[]] })
  /** `secret` is the Cloudflare API token. Secret. */
  | (DnsTiming & { readonly provider: 'cloudflare'; readonly secret: string });

export interface StaticCertificateConfig {
  readonly id: string;
  /** PEM certificate chain, leaf first. */
  readonly cert: string;
  /** PEM private key. Secret. */
  readonly privateKey: string;
  /** Normalized names it is served for: `subjects` when given, else the certificate's DNS names. */
  readonly subjects: readonly string[];
  readonly default: boolean;
}

/** A host (IP address or name) and port: `upstream`, `passthrough`, or a `bind` address. */
export interface HostPort {
  /** Without brackets: `::`, `0.0.0.0`, `backend.internal`. */
  readonly host: string;
  readonly port: number;
}

/** Which certificates a listener presents. Undefined on the listener = chosen by SNI among all. */
export type CertificateSource =
  | { readonly kind: 'acme'; readonly provider: string; readonly inherited: boolean }
  | { readonly kind: 'static'; readonly certificate: string; readonly inherited: boolean };

export interface ListenerTlsConfig {
  /** TLS from the first byte (Stalwart's `tls.implicit`, default false). */
  readonly implicit: boolean;
  readonly certificate: CertificateSource | undefined;
}

interface ListenerCommon {
  readonly id: string;
  /** IP addresses only; no address twice in the file. */
  readonly bind: readonly [HostPort, ...HostPort[]];
  readonly tls: ListenerTlsConfig;
  readonly sniFallback: SniFallback;
}

export type ListenerConfig =
  | (ListenerCommon & {
      readonly protocol: 'tcp-proxy';
      readonly served: true;
      readonly upstream: HostPort;
      readonly proxyProtocol: ProxyProtocolVersion | undefined;
    })
  /** Answers acme-tls/1 itself and passes every other connection, untouched, to `passthrough`. */
  | (ListenerCommon & {
      readonly protocol: 'acme';
      readonly served: true;
      readonly passthrough: HostPort | undefined;
    })
  | (ListenerCommon & { readonly protocol: 'http'; readonly served: true })
  | (ListenerCommon & { readonly protocol: MailProtocol; readonly served: false });

/** Listeners the daemon cannot run yet (mail protocols), for a clear refusal at start. */
export function unservedListeners(config: DaemonConfig): Extract<ListenerConfig, { served: false }>[] {
  return [...config.listeners.values()].filter(
    (listener): listener is Extract<ListenerConfig, { served: false }> => !listener.served,
  );
}
