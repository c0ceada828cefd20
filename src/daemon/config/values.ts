// Helpers over parsed TOML values: telling tables from other values, naming a value's type in messages,
// and the INVALID marker that stands in for a value whose macros failed (already reported, so later
// checks skip it instead of reporting it again as missing or mistyped).
import type { KeyPath } from './paths.js';

export const INVALID: unique symbol = Symbol('invalid config value');

export type TomlTableLike = Record<string, unknown>;

export function isTable(value: unknown): value is TomlTableLike {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** "a string", "an integer", "a list", "a table", ... for messages like `must be a string, not a list`. */
export function describeType(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a float';
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'a list';
  if (isTable(value)) return 'a table';
  return 'an unknown value';
}

/** The value at a path in a parsed document (array elements by their index), or undefined. */
export function valueAt(root: TomlTableLike, path: KeyPath): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (isTable(current) && Object.hasOwn(current, segment)) current = current[segment];
    else return undefined;
  }
  return current;
}
