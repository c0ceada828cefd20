// Loading the daemon configuration: TOML text -> macros expanded -> every table validated -> checks across
// tables (one default certificate, names and ports shared between providers and listeners). All problems
// are collected, each at FILE:LINE and key; the typed config is returned only when there is no error.
import { readFile as fsReadFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { type ConfigProblem, sortProblems } from './errors.js';
import { expandMacros } from './macros.js';
import type { AcmeProviderConfig, DaemonConfig, ListenerConfig, StaticCertificateConfig } from './model.js';
import { formatKey, parseKeyPath } from './paths.js';
import { Problems } from './problems.js';
import { TableReader } from './reader.js';
import { scanPositions } from './toml-positions.js';
import { readAcmeProvider } from './validate-acme.js';
import { readStaticCertificate } from './validate-certificates.js';
import {
  type KnownIds,
  readHostname,
  readListeners,
  readServerTls,
  SERVER_KEYS,
} from './validate-listeners.js';
import { isTable, type TomlTableLike } from './values.js';

export const TOP_LEVEL_KEYS = ['server', 'acme', 'certificate', 'macros'] as const;

export interface LoadOptions {
  /** Environment for `%{env:NAME}%`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads the configuration file, `%{file:...}%` files and `ca-file`; default `fs.readFile(path, 'utf8')`. */
  readonly readFile?: (path: string) => string | Promise<string>;
  /** The time static certificates are checked against (expiry warnings); default now. */
  readonly now?: Date;
}

export interface LoadResult {
  /** Present only when there is no error (warnings are fine). */
  readonly config?: DaemonConfig;
  /** In file order. */
  readonly problems: ConfigProblem[];
}

const defaultReadFile = (path: string) => fsReadFile(path, 'utf8');

/** Reads and validates a configuration file. Never throws for problems in the file; it reports them. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const readFile = options.readFile ?? defaultReadFile;
  let source: string;
  try {
    source = await readFile(resolve(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (code ?? String(error));
    return {
      problems: [
        {
          severity: 'error',
          file: path,
          line: 0,
          key: '',
          message: `cannot read the configuration file: ${reason}`,
        },
      ],
    };
  }
  return parseConfig(source, path, { ...options, readFile });
}

/** Validates configuration text; `file` names it in problems and anchors relative paths. */
export async function parseConfig(
  source: string,
  file: string,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const text = source.replace(/^\uFEFF/, '');
  let raw: TomlTableLike;
  try {
    raw = parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    return { problems: [syntaxProblem(error, text, file)] };
  }
  const problems = new Problems(file, scanPositions(text));
  const baseDir = dirname(resolve(file));
  const readFile = options.readFile ?? defaultReadFile;
  const root = new TableReader(problems, [], raw);
  for (const key of TOP_LEVEL_KEYS) root.raw(key);
  root.finish(TOP_LEVEL_KEYS);
  const expanded = await expandMacros(raw, problems, {
    env: options.env ?? process.env,
    readFile,
    baseDir,
    roots: TOP_LEVEL_KEYS,
  });
  const top = new TableReader(problems, [], expanded);
  const server = top.table('server');
  const hostname = readHostname(server);

  const acme = new Map<string, AcmeProviderConfig>();
  for (const [id, r] of entries(top, 'acme', 'ACME provider')) {
    const provider = await readAcmeProvider(r, id, { hostname, baseDir, readFile });
    if (provider !== undefined) acme.set(id, provider);
  }
  const certificates = new Map<string, StaticCertificateConfig>();
  for (const [id, r] of entries(top, 'certificate', 'certificate')) {
    const certificate = readStaticCertificate(r, id, options.now ?? new Date());
    if (certificate !== undefined) certificates.set(id, certificate);
  }
  const known: KnownIds = { acme: keysOf(expanded.acme), certificates: keysOf(expanded.certificate) };
  const tls = readServerTls(server, known);
  const listeners = readListeners(server, tls, known);
  server?.finish(SERVER_KEYS);
  top.raw('macros');

  checkDefaults(problems, acme, certificates);
  checkSharedDomains(problems, acme);
  checkHttpChallengePort(problems, acme, listeners);

  const list = sortProblems(problems.list);
  if (problems.errorCount > 0) return { problems: list };
  const config: DaemonConfig = {
    file: resolve(file),
    server: { hostname, tls },
    acme,
    certificates,
    listeners,
  };
  return { config, problems: list };
}

/** The `[<table>."<id>"]` sub-tables, each as a reader; reports entries that are not tables. */
function entries(top: TableReader, key: string, what: string): [string, TableReader][] {
  const table = top.table(key);
  if (table === undefined) return [];
  const result: [string, TableReader][] = [];
  for (const id of table.keys()) {
    const value = table.raw(id);
    if (!isTable(value)) {
      table.error(id, `must be a table: each ${what} is written [${key}."<id>"]`);
    } else if (id.trim() === '') {
      table.error(id, `the ${what} id must not be empty`);
    } else {
      result.push([id, new TableReader(top.problems, [key, id], value)]);
    }
  }
  return result;
}

function keysOf(value: unknown): string[] {
  return isTable(value) ? Object.keys(value) : [];
}

function checkDefaults(
  problems: Problems,
  acme: ReadonlyMap<string, AcmeProviderConfig>,
  certificates: ReadonlyMap<string, StaticCertificateConfig>,
): void {
  const defaults = [
    ...[...acme.values()].filter((p) => p.default).map((p) => ['acme', p.id, 'default']),
    ...[...certificates.values()].filter((c) => c.default).map((c) => ['certificate', c.id, 'default']),
  ].sort((a, b) => problems.lineOf(a) - problems.lineOf(b));
  const [first, ...others] = defaults;
  for (const path of others) {
    problems.error(
      path,
      `only one certificate can be the default; ${formatKey(first!)} (line ${problems.lineOf(first!)}) already is`,
    );
  }
}

function checkSharedDomains(problems: Problems, acme: ReadonlyMap<string, AcmeProviderConfig>): void {
  const owner = new Map<string, string>();
  for (const provider of acme.values()) {
    for (const [index, domain] of provider.domains.entries()) {
      const other = owner.get(domain);
      if (other === undefined) {
        owner.set(domain, provider.id);
        continue;
      }
      problems.warning(
        ['acme', provider.id, 'domains'],
        `${domain} is also in ${formatKey(['acme', other, 'domains'])}; two certificates will be obtained for it`,
        ['acme', provider.id, 'domains', String(index)],
      );
    }
  }
}

function checkHttpChallengePort(
  problems: Problems,
  acme: ReadonlyMap<string, AcmeProviderConfig>,
  listeners: ReadonlyMap<string, ListenerConfig>,
): void {
  const served = [...listeners.values()].some(
    (listener) => listener.protocol === 'http' && listener.bind.some((address) => address.port === 80),
  );
  if (served) return;
  for (const provider of acme.values()) {
    for (const challenge of provider.challenges) {
      if (challenge.type !== 'http-01' || challenge.port === 80) continue;
      problems.warning(
        ['acme', provider.id, 'port'],
        `the CA connects to port 80 for http-01, but no http listener binds port 80 and http-01 is answered on port ${challenge.port}; this works only if a proxy forwards port 80 there`,
      );
    }
  }
}

function syntaxProblem(error: TomlError, text: string, file: string): ConfigProblem {
  // Only the first line of smol-toml's message: the code frame after it would quote the file (secrets too).
  const message = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
  return {
    severity: 'error',
    file,
    line: error.line,
    column: error.column,
    key: guessKey(text, error.line),
    message: `syntax error: ${message}`,
  };
}

/** The key written on a line (with its table header), for syntax errors; empty when unclear. */
function guessKey(text: string, line: number): string {
  const lines = text.split('\n');
  const current = lines[line - 1] ?? '';
  const header = (source: string) => /^\s*\[\[?\s*([^\]]+?)\s*\]/.exec(source)?.[1];
  const here = header(current);
  if (here !== undefined) return normalizeKey(here);
  let table = '';
  for (let i = line - 2; i >= 0; i--) {
    const found = header(lines[i] ?? '');
    if (found !== undefined) {
      table = normalizeKey(found);
      break;
    }
  }
  const key = /^\s*([A-Za-z0-9_."' -]+?)\s*=/.exec(current)?.[1];
  if (key === undefined) return table;
  return table === '' ? normalizeKey(key) : `${table}.${normalizeKey(key)}`;
}

function normalizeKey(text: string): string {
  const path = parseKeyPath(text);
  return path === undefined ? text.trim() : formatKey(path);
}
