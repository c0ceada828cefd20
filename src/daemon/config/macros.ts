// Macro expansion in string values, as in Stalwart: `%{env:NAME}%` (environment variable),
// `%{file:/path}%` (file contents, one final newline removed), `%{cfg:key.path}%` (another value of this
// file) and named macros from the `[macros]` table (`%{DEFAULT_DOMAIN}%` is `default_domain` there; names
// ignore case and treat `-` like `_`). Text that comes from a file or the environment is inserted
// literally (never expanded again) and the value is marked sensitive, so messages do not quote it.
// A failed expansion is reported once, where the macro is written, and the value becomes INVALID.
import { isAbsolute, resolve } from 'node:path';
import { formatKey, type KeyPath, parseKeyPath, pathId } from './paths.js';
import { isSecretKey, type Problems } from './problems.js';
import { didYouMean } from './suggest.js';
import { INVALID, isTable, type TomlTableLike, valueAt } from './values.js';

export interface MacroOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string | Promise<string>;
  /** Folder that relative `%{file:...}%` paths are resolved from (the configuration file's folder). */
  readonly baseDir: string;
  /** Top-level keys to expand (others are left as they are, e.g. unknown tables); default all. */
  readonly roots?: readonly string[];
}

type Expansion = { ok: true; value: string; tainted: boolean } | { ok: false };

const FAILED: Expansion = { ok: false };

/** Placeholders kept literally for the daemon to fill: `%{name}%` in `acme.<id>.export`. */
function isPlaceholder(path: KeyPath, inner: string): boolean {
  return path.length === 3 && path[0] === 'acme' && path[2] === 'export' && inner.trim() === 'name';
}

export function macroName(name: string): string {
  return name.trim().toLowerCase().replaceAll('-', '_');
}

/** Returns a copy of the document with every string expanded; failed strings become INVALID. */
export async function expandMacros(
  raw: TomlTableLike,
  problems: Problems,
  options: MacroOptions,
): Promise<TomlTableLike> {
  return new Expander(raw, problems, options).run();
}

class Expander {
  readonly #raw: TomlTableLike;
  readonly #problems: Problems;
  readonly #options: MacroOptions;
  readonly #macros = new Map<string, string>(); // normalized name -> key in [macros]
  readonly #memo = new Map<string, Promise<Expansion>>();

  constructor(raw: TomlTableLike, problems: Problems, options: MacroOptions) {
    this.#raw = raw;
    this.#problems = problems;
    this.#options = options;
  }

  async run(): Promise<TomlTableLike> {
    const table = this.#raw.macros;
    if (isTable(table)) {
      for (const [key, value] of Object.entries(table)) {
        const name = macroName(key);
        const earlier = this.#macros.get(name);
        if (earlier !== undefined) {
          this.#problems.error(
            ['macros', key],
            `macro names ignore case and "-"/"_": this is the same as ${earlier}`,
          );
        } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
          this.#macros.set(name, key);
        } else {
          this.#problems.error(['macros', key], 'a macro must be a string');
        }
      }
    } else if (table !== undefined) {
      this.#problems.error(['macros'], 'must be a table of named values, as [macros]');
    }
    const roots = this.#options.roots;
    const out: TomlTableLike = Object.create(null);
    for (const [key, value] of Object.entries(this.#raw)) {
      out[key] = roots === undefined || roots.includes(key) ? await this.#walk(value, [key]) : value;
    }
    return out;
  }

  async #walk(value: unknown, path: string[]): Promise<unknown> {
    if (typeof value === 'string') {
      const result = await this.#expandAt(path, []);
      if (!result.ok) return INVALID;
      if (result.tainted) this.#problems.markSensitive(path);
      return result.value;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const [index, element] of value.entries())
        out.push(await this.#walk(element, [...path, String(index)]));
      return out;
    }
    if (isTable(value)) {
      const out: TomlTableLike = Object.create(null);
      for (const [key, element] of Object.entries(value))
        out[key] = await this.#walk(element, [...path, key]);
      return out;
    }
    return value;
  }

  /** Expands the string at `path` once; `stack` holds the paths being expanded, to catch cycles. */
  #expandAt(path: KeyPath, stack: readonly KeyPath[]): Promise<Expansion> {
    const id = pathId(path);
    const cycleStart = stack.findIndex((entry) => pathId(entry) === id);
    if (cycleStart >= 0) {
      const chain = [...stack.slice(cycleStart), path].map(formatKey).join(' -> ');
      const last = stack[stack.length - 1]!;
      this.#problems.error(last, `macros refer to each other in a cycle: ${chain}`);
      return Promise.resolve(FAILED);
    }
    let pending = this.#memo.get(id);
    if (pending === undefined) {
      const text = valueAt(this.#raw, path);
      pending =
        typeof text === 'string' ? this.#expandString(text, path, [...stack, path]) : Promise.resolve(FAILED);
      this.#memo.set(id, pending);
    }
    return pending;
  }

  async #expandString(text: string, path: KeyPath, stack: readonly KeyPath[]): Promise<Expansion> {
    let value = '';
    let tainted = false;
    let ok = true;
    let i = 0;
    while (i < text.length) {
      const start = text.indexOf('%{', i);
      if (start < 0) {
        value += text.slice(i);
        break;
      }
      const end = text.indexOf('}%', start + 2);
      if (end < 0) {
        this.#problems.error(path, 'unterminated macro: "%{" without a closing "}%"');
        return FAILED;
      }
      value += text.slice(i, start);
      const inner = text.slice(start + 2, end);
      i = end + 2;
      if (isPlaceholder(path, inner)) {
        value += `%{${inner}}%`;
        continue;
      }
      const result = await this.#resolve(inner, path, stack);
      if (result.ok) {
        value += result.value;
        tainted ||= result.tainted;
      } else {
        ok = false;
      }
    }
    return ok ? { ok, value, tainted } : FAILED;
  }

  async #resolve(inner: string, path: KeyPath, stack: readonly KeyPath[]): Promise<Expansion> {
    const kind = /^\s*([A-Za-z]+):(.*)$/s.exec(inner);
    if (kind === null) return this.#named(inner, path, stack);
    const argument = kind[2]!.trim();
    switch (kind[1]!.toLowerCase()) {
      case 'env':
        return this.#env(argument, path);
      case 'file':
        return this.#file(argument, path);
      case 'cfg':
        return this.#cfg(argument, path, stack);
      default:
        this.#problems.error(
          path,
          `unknown macro kind "${kind[1]}:" in %{${inner}}%; the kinds are env:, file: and cfg:`,
        );
        return FAILED;
    }
  }

  #env(name: string, path: KeyPath): Expansion {
    if (name === '') {
      this.#problems.error(path, '%{env:}% needs the name of an environment variable');
      return FAILED;
    }
    const value = this.#options.env[name];
    if (value === undefined) {
      this.#problems.error(path, `environment variable ${name} is not set (used as %{env:${name}}%)`);
      return FAILED;
    }
    return { ok: true, value, tainted: true };
  }

  async #file(file: string, path: KeyPath): Promise<Expansion> {
    if (file === '') {
      this.#problems.error(path, '%{file:}% needs a file path');
      return FAILED;
    }
    const absolute = isAbsolute(file) ? file : resolve(this.#options.baseDir, file);
    try {
      const content = await this.#options.readFile(absolute);
      return { ok: true, value: content.replace(/\r?\n$/, ''), tainted: true };
    } catch (error) {
      this.#problems.error(path, `cannot read ${absolute} for %{file:${file}}%: ${fileErrorReason(error)}`);
      return FAILED;
    }
  }

  async #cfg(key: string, path: KeyPath, stack: readonly KeyPath[]): Promise<Expansion> {
    const target = parseKeyPath(key);
    if (target === undefined) {
      this.#problems.error(
        path,
        `%{cfg:${key}}% does not name a key; write it as a dotted path like acme.le.directory`,
      );
      return FAILED;
    }
    const value = valueAt(this.#raw, target);
    const sensitive = isSecretKey(target);
    if (value === undefined) {
      const parent = valueAt(this.#raw, target.slice(0, -1));
      const hint = isTable(parent) ? didYouMean(target[target.length - 1]!, Object.keys(parent)) : '';
      this.#problems.error(path, `%{cfg:${key}}% refers to ${formatKey(target)}, which is not set${hint}`);
      return FAILED;
    }
    if (typeof value === 'string') {
      const result = await this.#expandAt(target, stack);
      return result.ok ? { ...result, tainted: result.tainted || sensitive } : FAILED;
    }
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
      return { ok: true, value: String(value), tainted: sensitive };
    }
    if (value instanceof Date) return { ok: true, value: value.toISOString(), tainted: sensitive };
    this.#problems.error(
      path,
      `%{cfg:${key}}% refers to ${Array.isArray(value) ? 'a list' : 'a table'}; only single values can be inserted`,
    );
    return FAILED;
  }

  async #named(inner: string, path: KeyPath, stack: readonly KeyPath[]): Promise<Expansion> {
    const name = inner.trim();
    if (name === '') {
      this.#problems.error(path, 'empty macro %{}%');
      return FAILED;
    }
    const key = this.#macros.get(macroName(name));
    if (key === undefined) {
      const known = [...this.#macros.values()];
      const hint = known.length > 0 ? didYouMean(name, known) : '';
      this.#problems.error(
        path,
        `unknown macro %{${name}}%${hint || `: define it in [macros] (e.g. ${macroName(name)} = "...") or use %{env:${name}}%`}`,
      );
      return FAILED;
    }
    const value = valueAt(this.#raw, ['macros', key]);
    if (typeof value !== 'string') return { ok: true, value: String(value), tainted: false };
    return this.#expandAt(['macros', key], stack);
  }
}

function fileErrorReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return code ?? 'read failed';
}
