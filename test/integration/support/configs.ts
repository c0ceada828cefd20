// Pieces of `tlsward serve` configuration text (TOML) that the daemon tests put together: an ACME provider
// on a test Pebble and a tcp-proxy listener. Each piece starts on a new line and ends with `more`, its
// caller's extra lines for the same section.
import type { RunningPebble } from './pebble.js';

/** A TOML array of strings. */
export function tomlList(values: readonly string[]): string {
  return `[${values.map((value) => JSON.stringify(value)).join(', ')}]`;
}

/** An `[acme."<id>"]` provider on `ca`, answering TLS-ALPN-01 on the port that Pebble's VA dials. */
export function acmeProvider(
  id: string,
  ca: RunningPebble,
  cache: string,
  domains: readonly string[],
  more = '',
): string {
  return `
[acme."${id}"]
directory = "${ca.directoryUrl}"
ca-file = "${ca.caFile}"
cache = "${cache}"
port = ${ca.tlsPort}
domains = ${tomlList(domains)}
${more}`;
}

/** A `[server.listener."<id>"]` on 127.0.0.1:`port` terminating TLS and relaying to 127.0.0.1:`upstreamPort`. */
export function proxyListener(id: string, port: number, upstreamPort: number, more = ''): string {
  return `
[server.listener."${id}"]
bind = ["127.0.0.1:${port}"]
protocol = "tcp-proxy"
upstream = "127.0.0.1:${upstreamPort}"
tls.implicit = true
${more}`;
}
