// One `[acme."<id>"]` table -> AcmeProviderConfig. Stalwart's keys keep their meaning (`directory`,
// `contact`, `cache`, `port`, `renew-before`, `challenge`, `domains`, `default`, `eab.*`, `provider`...);
// tlsward's additions (`key-type`, `preferred-chain`, `ca-file`, `export`, `on-renew`) follow their style.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_KEY_TYPE, KEY_TYPES } from '../../crypto/keys.js';
import { CHALLENGE_TYPES, type ChallengeType } from '../../solvers/solver.js';
import { formatDuration } from './durations.js';
import {
  type AcmeProviderConfig,
  type ChallengeConfig,
  DEFAULT_HTTP_PORT,
  DEFAULT_RENEW_BEFORE_MS,
  DEFAULT_TLS_ALPN_PORT,
  type ExternalAccountBinding,
  LETS_ENCRYPT_DIRECTORY,
} from './model.js';
import { isReservedDomain, type PublicCa, publicCaOf } from './public-cas.js';
import type { TableReader } from './reader.js';
import { DNS_KEYS, readDnsProvider } from './validate-dns.js';

export const ACME_KEYS = [
  'directory',
  'contact',
  'cache',
  'port',
  'renew-before',
  'challenge',
  'domains',
  'default',
  'eab',
  'key-type',
  'reuse-key',
  'preferred-chain',
  'ca-file',
  'export',
  'export-user',
  'export-group',
  'on-renew',
  ...DNS_KEYS,
] as const;

const LONG_RENEW_BEFORE_MS = 60 * 86_400_000;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export interface AcmeContext {
  /** Normalized `server.hostname`, the default for `domains`. */
  readonly hostname: string | undefined;
  /** Folder relative paths are resolved from. */
  readonly baseDir: string;
  readonly readFile: (path: string) => string | Promise<string>;
}

export async function readAcmeProvider(
  r: TableReader,
  id: string,
  context: AcmeContext,
): Promise<AcmeProviderConfig | undefined> {
  const before = r.problems.errorCount;
  const directory = readDirectory(r);
  const publicCa = directory === undefined ? undefined : publicCaOf(directory);
  const contact = readContact(r, publicCa);
  const challengeTypes = readChallengeTypes(r);

  let challenges: ChallengeConfig[] | undefined;
  if (challengeTypes === undefined) {
    for (const key of [...DNS_KEYS, 'port']) r.raw(key); // unknown challenges: do not guess what they need
  } else {
    challenges = readChallenges(r, challengeTypes, publicCa);
  }

  const renewBeforeMs = readRenewBefore(r);
  const domains = readDomains(r, context.hostname, challengeTypes);
  const eab = readEab(r);
  if (publicCa?.requiresEab && eab === undefined && !r.has('eab')) {
    r.warning(
      'eab',
      `${publicCa.name} accepts new accounts only with external account binding (eab.kid and eab.hmac-key)`,
    );
  }
  const caFile = await readCaFile(r, context);
  const onRenew = r.stringList('on-renew', {
    single: false,
    what: 'argument',
    hint: 'an argv list run without a shell, e.g. ["systemctl", "reload", "nginx"]',
  });
  if (onRenew?.length === 0) r.error('on-renew', 'must not be empty; leave it out to run nothing');
  const cache = r.string('cache');
  const exportPath = r.string('export');
  const exportOwner = {
    uid: await readAccount(r, 'export-user', '/etc/passwd', context),
    gid: await readAccount(r, 'export-group', '/etc/group', context),
  };
  if (exportPath === undefined) {
    for (const key of ['export-user', 'export-group']) {
      if (r.has(key)) r.error(key, 'only means something with export = "<folder>"');
    }
  }
  const provider = {
    id,
    directory: directory ?? LETS_ENCRYPT_DIRECTORY,
    contact: contact ?? [],
    cache: cache === undefined ? undefined : resolve(context.baseDir, cache),
    renewBeforeMs,
    challenges,
    domains,
    default: r.boolean('default') ?? false,
    eab,
    keyType: r.oneOf('key-type', KEY_TYPES, 'key type') ?? DEFAULT_KEY_TYPE,
    reuseKey: r.boolean('reuse-key') ?? false,
    preferredChain: r.string('preferred-chain'),
    caFile,
    exportPath: exportPath === undefined ? undefined : resolve(context.baseDir, exportPath),
    exportOwner,
    onRenew: onRenew?.map((element) => element.value),
  };
  r.finish(ACME_KEYS);
  const { challenges: list, domains: names, onRenew: argv } = provider;
  if (r.problems.errorCount > before || list === undefined || names === undefined) return undefined;
  const [firstChallenge, ...otherChallenges] = list;
  const [firstDomain, ...otherDomains] = names;
  if (firstChallenge === undefined || firstDomain === undefined) return undefined;
  const [program, ...args] = argv ?? [];
  return {
    ...provider,
    challenges: [firstChallenge, ...otherChallenges],
    domains: [firstDomain, ...otherDomains],
    onRenew: program === undefined ? undefined : [program, ...args],
  };
}

/** A user or group, by name (looked up in /etc/passwd or /etc/group) or numeric id. */
async function readAccount(
  r: TableReader,
  key: string,
  database: '/etc/passwd' | '/etc/group',
  context: AcmeContext,
): Promise<number | undefined> {
  const name = r.string(key)?.trim();
  if (name === undefined) return undefined;
  if (/^\d+$/.test(name)) return Number(name);
  const what = database === '/etc/passwd' ? 'user' : 'group';
  let text = '';
  try {
    text = await context.readFile(database);
  } catch {
    r.error(key, `cannot read ${database} to look up the ${what} ${JSON.stringify(name)}; give a numeric id`);
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [entry, , id] = line.split(':');
    if (entry === name && id !== undefined && /^\d+$/.test(id)) return Number(id);
  }
  r.error(key, `no ${what} named ${JSON.stringify(name)} in ${database}`);
  return undefined;
}

function readDirectory(r: TableReader): string | undefined {
  if (!r.has('directory')) return LETS_ENCRYPT_DIRECTORY;
  const text = r.string('directory');
  if (text === undefined) return undefined;
  const shown = r.problems.show(r.at('directory'), text);
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    r.error('directory', `${shown} is not a URL; for Let's Encrypt use "${LETS_ENCRYPT_DIRECTORY}"`);
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    r.error('directory', `${shown} must be an https:// URL (ACME requires HTTPS; http:// only on loopback)`);
    return undefined;
  }
  return url.href;
}

function readContact(r: TableReader, publicCa: PublicCa | undefined): string[] | undefined {
  const present = r.has('contact');
  const elements = r.stringList('contact', { single: true, what: 'an address' });
  if (present && elements === undefined) return undefined;
  const contacts: string[] = [];
  for (const element of elements ?? []) {
    const text = element.value.trim();
    const uri = SCHEME.test(text) ? text : `mailto:${text}`;
    const shown = r.problems.show(element.path, text);
    if (uri.toLowerCase().startsWith('mailto:')) {
      const address = uri.slice('mailto:'.length);
      const at = address.lastIndexOf('@');
      if (at <= 0 || at === address.length - 1 || /[\s,]/.test(address)) {
        r.problems.error(r.at('contact'), `${shown} is not an email address`, element.path);
        continue;
      }
      const domain = address.slice(at + 1);
      if (publicCa !== undefined && isReservedDomain(domain)) {
        r.problems.warning(
          r.at('contact'),
          `${publicCa.name} refuses contact addresses at the reserved domain ${r.problems.show(element.path, domain)}`,
          element.path,
        );
      }
    }
    contacts.push(uri);
  }
  if (contacts.length === 0 && publicCa !== undefined && (elements === undefined || elements.length === 0)) {
    r.error(
      'contact',
      `${present ? 'is empty' : 'missing'}: ${publicCa.name} needs a contact address, e.g. contact = ["postmaster@your-domain"]`,
    );
  }
  return contacts;
}

function readChallengeTypes(r: TableReader): ChallengeType[] | undefined {
  if (!r.has('challenge')) return ['tls-alpn-01'];
  const elements = r.stringList('challenge', { single: true, what: 'a challenge type' });
  if (elements === undefined) return undefined;
  if (elements.length === 0) {
    r.error('challenge', `must list at least one of ${CHALLENGE_TYPES.join(', ')}`);
    return undefined;
  }
  const types: ChallengeType[] = [];
  for (const element of elements) {
    const type = r.checkOneOf(
      'challenge',
      element.value.trim(),
      CHALLENGE_TYPES,
      'challenge type',
      element.path,
    );
    if (type === undefined) return undefined;
    if (types.includes(type)) {
      r.problems.error(r.at('challenge'), `"${type}" is listed twice`, element.path);
      return undefined;
    }
    types.push(type);
  }
  return types;
}

function readChallenges(
  r: TableReader,
  types: ChallengeType[],
  publicCa: PublicCa | undefined,
): ChallengeConfig[] {
  const { dns, usesPort } = types.includes('dns-01')
    ? readDnsProvider(r)
    : { dns: undefined, usesPort: false };
  if (!types.includes('dns-01')) {
    for (const key of DNS_KEYS)
      r.reject(key, 'is only used with the dns-01 challenge (challenge = "dns-01")');
  }
  const answersItself = types.includes('tls-alpn-01') || types.includes('http-01');
  let port: number | undefined;
  if (usesPort) {
    if (answersItself && r.has('port')) {
      const others = types.filter((t) => t !== 'dns-01');
      r.warning(
        'port',
        `with provider = "rfc2136-tsig" this is the DNS server's port; ${others.join(' and ')} ${others.length > 1 ? 'are' : 'is'} answered on the standard port`,
      );
    }
  } else if (!answersItself) {
    r.reject('port', 'is only used by tls-alpn-01 and http-01; dns-01 needs no port');
  } else {
    port = r.port('port');
  }
  if (
    publicCa !== undefined &&
    port !== undefined &&
    types.includes('tls-alpn-01') &&
    port !== DEFAULT_TLS_ALPN_PORT
  ) {
    r.warning(
      'port',
      `${publicCa.name} always connects to port 443 for tls-alpn-01; port ${port} works only if something forwards 443 to it`,
    );
  }
  const challenges: ChallengeConfig[] = [];
  for (const type of types) {
    if (type === 'tls-alpn-01') challenges.push({ type, port: port ?? DEFAULT_TLS_ALPN_PORT });
    else if (type === 'http-01') challenges.push({ type, port: port ?? DEFAULT_HTTP_PORT });
    else if (dns !== undefined) challenges.push({ type, dns });
  }
  return challenges;
}

function readRenewBefore(r: TableReader): number {
  const ms = r.duration('renew-before');
  if (ms === undefined) return DEFAULT_RENEW_BEFORE_MS;
  if (ms === 0) {
    r.error('renew-before', 'must be longer than 0');
  } else if (ms > LONG_RENEW_BEFORE_MS) {
    r.warning(
      'renew-before',
      `${formatDuration(ms)} is longer than typical certificate lifetimes allow (Let's Encrypt: 90 days and shortening); the certificate would be renewed almost at once`,
    );
  }
  return ms;
}

function readDomains(
  r: TableReader,
  hostname: string | undefined,
  types: ChallengeType[] | undefined,
): string[] | undefined {
  if (!r.has('domains')) {
    if (hostname !== undefined) return [hostname];
    r.error('domains', 'missing: give domains = ["..."], or set hostname in [server] to use it');
    return undefined;
  }
  const elements = r.stringList('domains', { single: true, what: 'a domain name' });
  if (elements === undefined) return undefined;
  if (elements.length === 0) {
    r.error('domains', 'must list at least one name (leave it out to use the server hostname)');
    return undefined;
  }
  const domains: string[] = [];
  let ok = true;
  for (const element of elements) {
    const name = r.domain('domains', element.value, element.path);
    if (name === undefined) {
      ok = false;
    } else if (name.startsWith('*.') && types !== undefined && !types.includes('dns-01')) {
      r.problems.error(
        r.at('domains'),
        `the wildcard ${r.problems.show(element.path, name)} needs the dns-01 challenge (add challenge = ["dns-01"] and a DNS provider); CAs validate wildcards only through DNS`,
        element.path,
      );
      ok = false;
    } else if (domains.includes(name)) {
      r.problems.warning(
        r.at('domains'),
        `${r.problems.show(element.path, name)} is listed twice`,
        element.path,
      );
    } else {
      domains.push(name);
    }
  }
  return ok ? domains : undefined;
}

function readEab(r: TableReader): ExternalAccountBinding | undefined {
  const eab = r.table('eab');
  if (eab === undefined) return undefined;
  const kid = eab.string('kid');
  const hmacKey = eab.string('hmac-key');
  if (hmacKey !== undefined && !BASE64URL.test(hmacKey.trim())) {
    eab.error('hmac-key', 'is not base64url (the value is not shown because it is a secret)');
  }
  if (eab.has('kid') && !eab.has('hmac-key'))
    eab.error('hmac-key', 'missing: eab.kid is set, so eab.hmac-key is needed too');
  if (eab.has('hmac-key') && !eab.has('kid'))
    eab.error('kid', 'missing: eab.hmac-key is set, so eab.kid is needed too');
  eab.finish(['kid', 'hmac-key']);
  return kid === undefined || hmacKey === undefined ? undefined : { kid, hmacKey: hmacKey.trim() };
}

async function readCaFile(r: TableReader, context: AcmeContext): Promise<string | undefined> {
  const text = r.string('ca-file');
  if (text === undefined) return undefined;
  const path = resolve(context.baseDir, text);
  let content: string;
  try {
    content = await context.readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    r.error(
      'ca-file',
      `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'read failed')}`,
    );
    return undefined;
  }
  if (!content.includes('-----BEGIN CERTIFICATE-----')) {
    r.error('ca-file', `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return undefined;
  }
  return path;
}
