// The `[server]` table: `hostname`, `[server.tls]` (global `acme` provider / static `certificate`) and the
// `[server.listener."<id>"]` tables (bind, protocol, tls.*, upstream, proxy-protocol, passthrough,
// sni-fallback). Checks references to providers and certificates, and bind addresses across listeners.
import { bindConflict, formatHostPort, parseBindAddress, parseHostPort } from './addresses.js';
import {
  type CertificateSource,
  type HostPort,
  LISTENER_PROTOCOLS,
  type ListenerConfig,
  type ListenerProtocol,
  MAIL_PROTOCOLS,
  PROXY_PROTOCOL_VERSIONS,
  SERVED_PROTOCOLS,
  SNI_FALLBACKS,
} from './model.js';
import type { KeyPath } from './paths.js';
import { TableReader } from './reader.js';
import { didYouMean } from './suggest.js';
import { isTable } from './values.js';

export const SERVER_KEYS = ['hostname', 'tls', 'listener'] as const;
export const SERVER_TLS_KEYS = ['acme', 'certificate'] as const;
export const LISTENER_KEYS = [
  'bind',
  'protocol',
  'tls',
  'upstream',
  'proxy-protocol',
  'passthrough',
  'sni-fallback',
] as const;
export const LISTENER_TLS_KEYS = ['implicit', 'acme', 'certificate'] as const;

/** The ids the file defines, for checking references (all of them, even those with errors of their own). */
export interface KnownIds {
  readonly acme: readonly string[];
  readonly certificates: readonly string[];
}

/** `server.hostname`, normalized; read first because it is the default of every provider's `domains`. */
export function readHostname(server: TableReader | undefined): string | undefined {
  const text = server?.string('hostname');
  if (server === undefined || text === undefined) return undefined;
  const name = server.domain('hostname', text);
  if (name?.startsWith('*.')) {
    server.error('hostname', 'the server hostname cannot be a wildcard');
    return undefined;
  }
  return name;
}

export interface ServerTls {
  readonly acme: string | undefined;
  readonly certificate: string | undefined;
}

export function readServerTls(server: TableReader | undefined, known: KnownIds): ServerTls {
  const tls = server?.table('tls');
  if (tls === undefined) return { acme: undefined, certificate: undefined };
  const acme = reference(tls, 'acme', known.acme, 'ACME provider', 'acme');
  const certificate = reference(tls, 'certificate', known.certificates, 'certificate', 'certificate');
  tls.finish(SERVER_TLS_KEYS);
  return { acme, certificate };
}

/** Reads every listener, then reports bind addresses used twice. */
export function readListeners(
  server: TableReader | undefined,
  global: ServerTls,
  known: KnownIds,
): Map<string, ListenerConfig> {
  const listeners = new Map<string, ListenerConfig>();
  const table = server?.table('listener');
  if (server === undefined || table === undefined) return listeners;
  const taken: { address: HostPort; id: string; path: KeyPath }[] = [];
  for (const id of table.keys()) {
    const value = table.raw(id);
    if (!isTable(value)) {
      table.error(id, 'must be a table, as [server.listener."<id>"]');
      continue;
    }
    const r = new TableReader(server.problems, table.at(id), value);
    const listener = readListener(r, id, global, known, taken);
    if (listener !== undefined) listeners.set(id, listener);
  }
  return listeners;
}

function readListener(
  r: TableReader,
  id: string,
  global: ServerTls,
  known: KnownIds,
  taken: { address: HostPort; id: string; path: KeyPath }[],
): ListenerConfig | undefined {
  const before = r.problems.errorCount;
  r.require('protocol', `one of ${SERVED_PROTOCOLS.join(', ')}`);
  r.require('bind', 'the addresses to listen on, e.g. bind = ["[::]:443"]');
  const protocol = readProtocol(r);
  const bind = readBind(r, id, taken);
  const tls = r.table('tls');
  const implicit = tls?.boolean('implicit') ?? false;
  const acme = tls === undefined ? undefined : reference(tls, 'acme', known.acme, 'ACME provider', 'acme');
  const certificate =
    tls === undefined
      ? undefined
      : reference(tls, 'certificate', known.certificates, 'certificate', 'certificate');
  if (tls?.has('acme') && tls.has('certificate')) {
    tls.error('certificate', 'set either tls.acme or tls.certificate, not both');
  }
  tls?.finish(LISTENER_TLS_KEYS);
  const source: CertificateSource | undefined =
    certificate !== undefined
      ? { kind: 'static', certificate, inherited: false }
      : acme !== undefined
        ? { kind: 'acme', provider: acme, inherited: false }
        : global.acme !== undefined
          ? { kind: 'acme', provider: global.acme, inherited: true }
          : global.certificate !== undefined
            ? { kind: 'static', certificate: global.certificate, inherited: true }
            : undefined;
  if (implicit && source === undefined && known.acme.length === 0 && known.certificates.length === 0) {
    r.problems.error(
      [...r.path, 'tls', 'implicit'],
      'implicit TLS needs a certificate, but the file has no [acme."<id>"] or [certificate."<id>"]',
    );
  }
  const sniFallback = r.oneOf('sni-fallback', SNI_FALLBACKS, 'sni-fallback policy') ?? 'default';
  const upstream = protocol === 'tcp-proxy' ? readTarget(r, 'upstream', true) : undefined;
  const proxyProtocol =
    protocol === 'tcp-proxy'
      ? r.oneOf('proxy-protocol', PROXY_PROTOCOL_VERSIONS, 'PROXY protocol version')
      : undefined;
  const passthrough = protocol === 'acme' ? readTarget(r, 'passthrough', false) : undefined;
  if (protocol !== undefined) {
    if (protocol !== 'tcp-proxy') {
      r.reject('upstream', `is only used by protocol = "tcp-proxy", not "${protocol}"`);
      r.reject('proxy-protocol', `is only used by protocol = "tcp-proxy", not "${protocol}"`);
    }
    if (protocol !== 'acme') r.reject('passthrough', `is only used by protocol = "acme", not "${protocol}"`);
  } else {
    for (const key of ['upstream', 'proxy-protocol', 'passthrough']) r.raw(key);
  }
  if (protocol === 'tcp-proxy' && !implicit && tls?.has('implicit') !== true) {
    r.warning(
      'tls',
      'a tcp-proxy without tls.implicit = true forwards plain TCP and presents no certificate',
    );
  }
  r.finish(LISTENER_KEYS);
  if (r.problems.errorCount > before || protocol === undefined || bind === undefined) return undefined;
  const common = { id, bind, tls: { implicit, certificate: source }, sniFallback };
  switch (protocol) {
    case 'tcp-proxy':
      return upstream === undefined
        ? undefined
        : { ...common, protocol, served: true, upstream, proxyProtocol };
    case 'acme':
      return { ...common, protocol, served: true, passthrough };
    case 'http':
      return { ...common, protocol, served: true };
    default:
      return { ...common, protocol, served: false };
  }
}

function readProtocol(r: TableReader): ListenerProtocol | undefined {
  const value = r.string('protocol');
  if (value === undefined) return undefined;
  if ((LISTENER_PROTOCOLS as readonly string[]).includes(value)) return value as ListenerProtocol;
  r.error(
    'protocol',
    `unknown protocol ${r.problems.show(r.at('protocol'), value)}${didYouMean(value, LISTENER_PROTOCOLS)} ` +
      `(tlsward serves ${SERVED_PROTOCOLS.join(', ')}; Stalwart's ${MAIL_PROTOCOLS.join(', ')} are accepted but not served yet)`,
  );
  return undefined;
}

function readBind(
  r: TableReader,
  id: string,
  taken: { address: HostPort; id: string; path: KeyPath }[],
): [HostPort, ...HostPort[]] | undefined {
  const elements = r.stringList('bind', { single: true, what: 'an address' });
  if (elements === undefined) return undefined;
  const addresses: HostPort[] = [];
  let ok = true;
  for (const element of elements) {
    const parsed = parseBindAddress(element.value);
    const shown = r.problems.show(element.path, element.value);
    if (!parsed.ok) {
      r.problems.error(r.at('bind'), `${shown}: ${parsed.reason}`, element.path);
      ok = false;
      continue;
    }
    const clash = taken.find((other) => bindConflict(other.address, parsed.value));
    if (clash !== undefined) {
      const same = formatHostPort(clash.address) === formatHostPort(parsed.value);
      const where = clash.id === id ? 'this listener' : `listener ${JSON.stringify(clash.id)}`;
      const what = same ? 'is also bound by' : `overlaps with ${formatHostPort(clash.address)} of`;
      r.problems.error(
        r.at('bind'),
        `${shown} ${what} ${where} (line ${r.problems.lineOf(clash.path)}); one port cannot be bound twice`,
        element.path,
      );
      ok = false;
      continue;
    }
    taken.push({ address: parsed.value, id, path: element.path });
    addresses.push(parsed.value);
  }
  const [first, ...rest] = addresses;
  if (elements.length === 0) r.error('bind', 'must list at least one address, e.g. bind = ["[::]:443"]');
  return ok && first !== undefined ? [first, ...rest] : undefined;
}

function readTarget(
  r: TableReader,
  key: 'upstream' | 'passthrough',
  required: boolean,
): HostPort | undefined {
  if (required) r.require(key, 'where to forward connections, as upstream = "host:port"');
  const text = r.string(key);
  if (text === undefined) return undefined;
  const parsed = parseHostPort(text);
  if (parsed.ok) return parsed.value;
  r.error(key, `${r.problems.show(r.at(key), text)}: ${parsed.reason}`);
  return undefined;
}

/** An id that must name an `[acme."<id>"]` or `[certificate."<id>"]` table. */
function reference(
  r: TableReader,
  key: string,
  known: readonly string[],
  what: string,
  table: string,
): string | undefined {
  const id = r.string(key);
  if (id === undefined || known.includes(id)) return id;
  const defined =
    known.length > 0
      ? `the file defines ${known.map((k) => JSON.stringify(k)).join(', ')}`
      : `the file has no [${table}."<id>"]`;
  r.error(key, `unknown ${what} ${r.problems.show(r.at(key), id)}${didYouMean(id, known)} (${defined})`);
  return undefined;
}
