// Shared by the configuration tests: fixture folders, a fixed environment and clock, and a helper that
// loads TOML text from memory (other files, for `%{file:...}%`, come from a map).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadOptions, type LoadResult, parseConfig } from '../../../../src/daemon/config/index.js';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const BAD = join(HERE, 'bad');
export const GOOD = join(HERE, 'good');

export const TEST_ENV: Readonly<Record<string, string>> = {
  TLSWARD_TEST_SECRET: 'TOPSECRET',
  TLSWARD_TEST_BASE: '/var/lib/tlsward',
  TLSWARD_TEST_CF_TOKEN: 'cf-token',
};

export const NOW = new Date('2030-01-01T00:00:00Z');

export const TEST_CA = 'https://localhost:14000/dir';

/** Loads `text` as if it were /etc/tlsward/<name>; `files` (absolute paths) serve `%{file:...}%`. */
export function load(
  text: string,
  options: { files?: Record<string, string>; env?: Record<string, string>; name?: string } = {},
): Promise<LoadResult> {
  const files = options.files ?? {};
  const loadOptions: LoadOptions = {
    env: options.env ?? TEST_ENV,
    now: NOW,
    readFile: (path: string) => {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return content;
    },
  };
  return parseConfig(text, resolve('/etc/tlsward', options.name ?? 'tlsward.toml'), loadOptions);
}

/** `key: message` of each problem, for compact assertions. */
export function summary(result: LoadResult): string[] {
  return result.problems.map(
    (p) => `${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.key}: ${p.message}`,
  );
}
