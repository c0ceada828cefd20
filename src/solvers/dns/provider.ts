// The contract between the DNS-01 solver and whatever can change a zone: RFC 2136 (rfc2136.ts), and
// later an `exec` hook or a hosted API such as Cloudflare's. A provider only adds and removes single TXT
// values; finding where the record goes (CNAME delegation) and waiting for it to be visible is the
// solver's job, so every provider gets those for free.

/** One TXT value at one name. */
export interface TxtRecord {
  /** Fully qualified owner name without the trailing dot, e.g. `_acme-challenge.example.org`. */
  readonly name: string;
  /** The value, e.g. the base64url SHA-256 digest of a key authorization (RFC 8555 section 8.4). */
  readonly value: string;
  /** The zone holding `name`, when the caller already knows it; providers find it otherwise. */
  readonly zone?: string;
  /** TTL in seconds for an added record; providers pick a short default (60) when absent. */
  readonly ttl?: number;
}

export interface DnsProvider {
  /** For messages and logs, e.g. `rfc2136 ns1.example.org:53`. Never contains a secret. */
  readonly name: string;
  /**
   * Adds `value` to the TXT record set at `name`, keeping any other values there: a name and its
   * wildcard share one TXT name, and both values must be visible at once. Adding a value that is
   * already there is not an error.
   */
  addTxt(record: TxtRecord, signal: AbortSignal): Promise<void>;
  /**
   * Removes exactly this value from the set at `name`, never the whole set (another challenge may be
   * using it). Removing a value that is not there is not an error: cleanup runs after failures too.
   */
  removeTxt(record: TxtRecord, signal: AbortSignal): Promise<void>;
}
