// The one place storage keys are built. Every name that becomes part of a key (a domain, an issuer, an
// account) is made safe here, and every backend checks keys with assertKey, so that no key can ever
// leave its folder whatever a caller passes: one folder per segment, one alphabet for all backends.
//
// Layout:
//   accounts/<issuer>/<account>/key.pem            the ACME account private key
//   accounts/<issuer>/<account>/account.json       the registration (account URL, contacts)
//   certificates/<issuer>/<cert>/cert.pem|chain.pem|fullchain.pem|privkey.pem|metadata.json
//   issue/<cert>                                   lock name held while obtaining <cert>
//   account/<issuer>/<account>                     lock name held while registering an account
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';

/** The longest safe name (one file name on every common filesystem). */
export const SAFE_NAME_MAX = 255;
/** The longest key; far below PATH_MAX once joined to a root folder. */
export const KEY_MAX = 1024;

// One segment: lowercase so that case-insensitive filesystems cannot merge two keys; no leading '.' (so
// '.', '..' and hidden files are impossible and '.locks' stays the fs backend's own) and no leading '-'
// (so no segment reads as a command-line option). '~' is deliberately absent: backends use it in names
// of their temporary files, which can then never be mistaken for a key.
const SAFE_NAME = /^[a-z0-9_][a-z0-9._-]*$/;

/** True when `name` can be used as it is as one key segment. */
export function isSafeName(name: string): boolean {
  return typeof name === 'string' && name.length <= SAFE_NAME_MAX && SAFE_NAME.test(name);
}

/**
 * Makes a name (a domain, `*.domain`) safe as one key segment: lowercased, `*` becomes `_wildcard`.
 * Anything else outside `[a-z0-9._-]` is refused with a TypeError rather than mapped, so that two
 * different names can never share a folder by accident. Idempotent on its own output.
 */
export function safeName(name: string): string {
  const safe = safeNameOfAnyLength(name);
  if (safe.length > SAFE_NAME_MAX) throw new TypeError(`storage name too long: ${JSON.stringify(name)}`);
  return safe;
}

function safeNameOfAnyLength(name: string): string {
  if (typeof name !== 'string') throw new TypeError(`storage name must be a string, got ${typeof name}`);
  // Check before lowercasing: toLowerCase maps some non-ASCII letters (the Kelvin sign) into ASCII ones.
  if (!/^[A-Za-z0-9._*-]+$/.test(name)) throw new TypeError(`unsafe storage name ${JSON.stringify(name)}`);
  const safe = name.toLowerCase().replaceAll('*', '_wildcard');
  if (!SAFE_NAME.test(safe)) throw new TypeError(`unsafe storage name ${JSON.stringify(name)}`);
  return safe;
}

/** Keeps a name within SAFE_NAME_MAX: a longer one is cut and told apart by a digest of the whole. */
function shorten(name: string, room: number): string {
  return name.length <= room ? name : `${name.slice(0, room - 13)}_${digest(name, 12)}`;
}

function assertSafeName(what: string, name: string): void {
  if (!isSafeName(name)) throw new TypeError(`${what} is not a safe storage name: ${JSON.stringify(name)}`);
}

/** Throws TypeError unless `key` is a valid storage key: safe names joined by single '/'. */
export function assertKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > KEY_MAX) {
    throw new TypeError(`invalid storage key ${JSON.stringify(key)}`);
  }
  for (const segment of key.split('/')) {
    if (!isSafeName(segment)) throw new TypeError(`invalid storage key ${JSON.stringify(key)}`);
  }
}

/** Like assertKey, but also accepts '' (the whole store), as list() does. */
export function assertPrefix(prefix: string): void {
  if (prefix !== '') assertKey(prefix);
}

/** A short, stable hex digest, for names that cannot be shown as they are. */
function digest(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Turns free text into something readable for the part of a name before a digest. */
function readablePart(text: string, fallback: string): string {
  const part = text
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 80)
    .replace(/-+$/, '');
  return part === '' ? fallback : part;
}

/**
 * A readable id for an ACME directory, distinct for distinct URLs:
 * `https://acme-v02.api.letsencrypt.org/directory` -> `acme-v02.api.letsencrypt.org-directory`,
 * `https://127.0.0.1:14000/dir` -> `127.0.0.1_14000-dir`, `https://ca.example/acme/dir` -> `ca.example-acme-dir`.
 * That plain form is used only when it cannot be confused with another URL's (https, no query, path
 * segments of `[a-z0-9]`, host ending in a letters-only or digits-only label); any other URL gets
 * `<readable>_<10 hex digits of SHA-256 of the URL>`, which no plain form can equal.
 */
export function issuerIdFromDirectoryUrl(directoryUrl: string): string {
  let url: URL;
  try {
    url = new URL(directoryUrl);
  } catch {
    throw new TypeError(`not an ACME directory URL: ${JSON.stringify(directoryUrl)}`);
  }
  url.hash = ''; // never sent to the server, so not part of the identity
  const host = url.hostname;
  const segments = url.pathname === '/' ? [] : url.pathname.slice(1).split('/');
  const plain =
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    /^([a-z0-9-]+\.)*([a-z]+|[0-9]+)$/.test(host) &&
    segments.every((segment) => /^[a-z0-9]+$/.test(segment));
  if (plain) {
    // Unambiguous: host labels never hold '_', the port is digits, and path segments hold no '-' or '.',
    // so the first '-' after the host's last '.' starts the path.
    const id = `${host}${url.port ? `_${url.port}` : ''}${segments.map((s) => `-${s}`).join('')}`;
    if (id.length <= 200 && isSafeName(id)) return id;
  }
  const readable = readablePart([host, url.port, url.pathname].join('-'), 'issuer');
  return `${readable}_${digest(url.href, 10)}`;
}

/**
 * The folder name of the account for a contact list: `admin@example.org` -> `admin_at_example.org`,
 * `default` when there is no contact. A contact that does not fit that form (a `+` in it, not an
 * e-mail address) becomes `<readable>_<10 hex digits>`, which has one '_' where the plain form has two.
 */
export function accountNameFor(contacts: readonly string[]): string {
  const first = (contacts[0] ?? '').trim().replace(/^mailto:/i, '');
  if (first === '') return 'default';
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)$/.exec(first);
  if (match) {
    const name = `${match[1]!.toLowerCase()}_at_${match[2]!.toLowerCase()}`;
    if (isSafeName(name)) return name;
  }
  return `${readablePart(first.replaceAll('@', '-at-'), 'contact')}_${digest(first, 10)}`;
}

export interface AccountKeys {
  readonly folder: string;
  readonly privateKey: string;
  readonly registration: string;
}

/** Where an ACME account lives: its private key and its registration. */
export function accountKeys(issuerId: string, accountName: string): AccountKeys {
  assertSafeName('issuer id', issuerId);
  assertSafeName('account name', accountName);
  const folder = `accounts/${issuerId}/${accountName}`;
  return { folder, privateKey: `${folder}/key.pem`, registration: `${folder}/account.json` };
}

/** The lock held while creating or updating an account, so two nodes never register it twice. */
export function accountLockName(issuerId: string, accountName: string): string {
  assertSafeName('issuer id', issuerId);
  assertSafeName('account name', accountName);
  return `account/${issuerId}/${accountName}`;
}

/** One certificate name as a key segment; IPv6 addresses (RFC 8738) get a '_ipv6_' form without ':'. */
function nameSegment(name: string): string {
  if (typeof name === 'string' && isIPv6(name) && /^[0-9A-Fa-f:.]+$/.test(name)) {
    return `_ipv6_${name.toLowerCase().replaceAll(':', '-')}`;
  }
  // A 253-character wildcard name is valid DNS but 261 characters once spelled out.
  return shorten(safeNameOfAnyLength(name), SAFE_NAME_MAX);
}

/**
 * The folder name of a certificate for a set of names. One name: its safe name (`*.example.org` ->
 * `_wildcard.example.org`). Several: the first name's safe name, then '_' and 12 hex digits of SHA-256
 * over the sorted, deduplicated set, so that another set gets another folder while the order of the
 * names after the first does not matter. (A valid host name holds no '_' beyond our own `_wildcard` and
 * `_ipv6_` spellings, so a set's folder can never be the one-name folder of another valid name.)
 */
export function certificateName(names: readonly string[]): string {
  if (!Array.isArray(names) || names.length === 0) {
    throw new TypeError('a certificate needs at least one name');
  }
  const segments = names.map(nameSegment);
  const primary = segments[0]!;
  const set = [...new Set(segments)].sort();
  if (set.length === 1) return primary;
  return `${shorten(primary, SAFE_NAME_MAX - 13)}_${digest(set.join('\n'), 12)}`;
}

export interface CertificateKeys {
  readonly folder: string;
  readonly certificate: string;
  readonly chain: string;
  readonly fullchain: string;
  readonly privateKey: string;
  readonly metadata: string;
}

/** Where a certificate lives: the leaf, the chain, both together, its private key and our metadata. */
export function certificateKeys(issuerId: string, certName: string): CertificateKeys {
  assertSafeName('issuer id', issuerId);
  assertSafeName('certificate name', certName);
  const folder = `certificates/${issuerId}/${certName}`;
  return {
    folder,
    certificate: `${folder}/cert.pem`,
    chain: `${folder}/chain.pem`,
    fullchain: `${folder}/fullchain.pem`,
    privateKey: `${folder}/privkey.pem`,
    metadata: `${folder}/metadata.json`,
  };
}

/** The lock held while obtaining or renewing a certificate, shared by every issuer and every node. */
export function issueLockName(certName: string): string {
  assertSafeName('certificate name', certName);
  return `issue/${certName}`;
}

/** True for the keys that hold private keys (account or certificate), e.g. to keep them out of exports. */
export function isPrivateKeyPath(key: string): boolean {
  return /^(accounts\/[^/]+\/[^/]+\/key\.pem|certificates\/[^/]+\/[^/]+\/privkey\.pem)$/.test(key);
}

/** The renewal state (next attempt, last error) a daemon records for one certificate, by its config id. */
export function certificateStateKey(certificateId: string): string {
  const readable = certificateId
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 64);
  const digest = createHash('sha256').update(certificateId).digest('hex').slice(0, 10);
  return `state/${readable || 'certificate'}_${digest}.json`;
}
