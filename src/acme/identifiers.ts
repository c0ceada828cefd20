// Domain names as they go into an ACME order: trimmed, lowercased, IDNA (punycode) encoded and checked
// before anything is sent, so a typo fails here with the name in the message rather than at the CA.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { InvalidIdentifierError } from '../errors.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** One normalized name: `ascii` is what the CA sees; `wildcard` when it was written `*.name`. */
export interface DomainIdentifier {
  readonly ascii: string;
  readonly wildcard: boolean;
}

/** Normalizes and validates one domain name; throws InvalidIdentifierError naming it otherwise. */
export function normalizeDomain(input: string): string {
  const trimmed = input.trim().toLowerCase().replace(/\.$/, '');
  if (trimmed === '') throw new InvalidIdentifierError(input, 'empty name');
  if (isIP(trimmed.replace(/^\[|\]$/g, ''))) {
    throw new InvalidIdentifierError(input, 'IP address identifiers are not supported; use a DNS name');
  }
  const wildcard = trimmed.startsWith('*.');
  const base = wildcard ? trimmed.slice(2) : trimmed;
  if (base.includes('*')) {
    throw new InvalidIdentifierError(
      input,
      'a wildcard may only be the whole leftmost label, as in *.example.org',
    );
  }
  const ascii = domainToASCII(base);
  if (ascii === '') throw new InvalidIdentifierError(input, 'not a valid internationalized domain name');
  if (ascii.length > 253) throw new InvalidIdentifierError(input, 'longer than 253 characters');
  for (const label of ascii.split('.')) {
    if (!LABEL.test(label)) {
      throw new InvalidIdentifierError(
        input,
        `label ${JSON.stringify(label)} must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen`,
      );
    }
  }
  return wildcard ? `*.${ascii}` : ascii;
}

/** Normalizes a list of names, dropping duplicates but keeping the first-given order (the first is primary). */
export function normalizeDomains(inputs: readonly string[]): string[] {
  if (inputs.length === 0) throw new TypeError('at least one domain name is needed');
  return [...new Set(inputs.map(normalizeDomain))];
}

/** Splits a normalized name into its base and wildcard flag. */
export function parseDomain(normalized: string): DomainIdentifier {
  return normalized.startsWith('*.')
    ? { ascii: normalized.slice(2), wildcard: true }
    : { ascii: normalized, wildcard: false };
}
