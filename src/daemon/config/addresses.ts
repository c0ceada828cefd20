// `addr:port` texts: listener bind addresses (IP only: `[::]:465`, `0.0.0.0:443`, `127.0.0.1:8080`) and
// upstream / passthrough targets (an IP or a host name). Also tells when two bind addresses collide.
import { isIP } from 'node:net';
import type { HostPort } from './model.js';

export type Parsed = { ok: true; value: HostPort } | { ok: false; reason: string };

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

function split(text: string): { host: string; bracketed: boolean; port: string } | undefined {
  const trimmed = text.trim();
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(trimmed);
  if (v6) return { host: v6[1]!, bracketed: true, port: v6[2]! };
  const colon = trimmed.lastIndexOf(':');
  if (colon < 0) return undefined;
  return { host: trimmed.slice(0, colon), bracketed: false, port: trimmed.slice(colon + 1) };
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

function parse(text: string, allowNames: boolean): Parsed {
  const example = allowNames ? '"backend.internal:8080" or "[::1]:8080"' : '"[::]:443" or "0.0.0.0:443"';
  const parts = split(text);
  if (parts === undefined) return { ok: false, reason: `needs a port, as in ${example}` };
  const port = parsePort(parts.port);
  if (port === undefined) return { ok: false, reason: 'the port must be a number from 1 to 65535' };
  const kind = isIP(parts.host);
  if (parts.bracketed && kind !== 6) return { ok: false, reason: 'brackets are for IPv6 addresses only' };
  if (kind === 6 && !parts.bracketed) {
    return { ok: false, reason: `write an IPv6 address in brackets, as in "[${parts.host}]:${port}"` };
  }
  if (kind === 0 && !(allowNames && HOST_NAME.test(parts.host))) {
    return {
      ok: false,
      reason: allowNames
        ? `the host must be an IP address or a host name, as in ${example}`
        : `the address must be an IP address (use "[::]" or "0.0.0.0" for all), as in ${example}`,
    };
  }
  return { ok: true, value: { host: parts.host.toLowerCase(), port } };
}

/** An IP address or a DNS host name (no port). */
export function isHost(text: string): boolean {
  return isIP(text) !== 0 || HOST_NAME.test(text);
}

/** A listener's bind address: IP address and port. */
export function parseBindAddress(text: string): Parsed {
  return parse(text, false);
}

/** An upstream or passthrough target: IP address or host name, and port. */
export function parseHostPort(text: string): Parsed {
  return parse(text, true);
}

/** `[::]:443` / `0.0.0.0:443` form of an address for messages. */
export function formatHostPort(address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || (isIP(host) === 6 && /^[0:]+$/.test(host));
}

/**
 * Whether two bind addresses cannot both be bound: same port and same address, or one is a wildcard that
 * covers the other (`[::]` covers IPv4 too, as Node listens dual-stack by default).
 */
export function bindConflict(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  if (canonical(a.host) === canonical(b.host)) return true;
  const v6Any = (host: string) => isWildcard(host) && isIP(host) === 6;
  if (v6Any(a.host) || v6Any(b.host)) return true;
  const v4 = (host: string) => isIP(host) === 4;
  return (a.host === '0.0.0.0' && v4(b.host)) || (b.host === '0.0.0.0' && v4(a.host));
}

function canonical(host: string): string {
  if (isIP(host) !== 6) return host;
  // Expand `::` so that `::1` and `0:0:0:0:0:0:0:1` compare equal.
  const [head = '', tail] = host.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => group.replace(/^0+(?=.)/, '')).join(':');
}
