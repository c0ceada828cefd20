// The CertificateManager: which names need certificates, obtaining them (under a storage lock, so only
// one node of a cluster does the work), renewing each when its own due time comes, retrying failures
// with capped backoff while the old certificate keeps serving, and answering TLS servers' SNI lookups.
// Certificates are kept in memory as a small reference; their SecureContexts are built on first use.
// The specs, events and status it speaks are in types.ts (re-exported here).
import type { SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { parseCertificate } from '../crypto/certificate.js';
import { privateKeyToPem } from '../crypto/keys.js';
import { TlswardError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEvents } from '../util/events.js';
import { CertificateStore, type StoredCertificate } from './certificate-store.js';
import { ContextCache } from './context-cache.js';
import { covers, NameIndex, sameNameSet } from './name-index.js';
import { obtainUnderLock } from './obtain.js';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff, renewalDueAt, retryAt } from './renewal-policy.js';
import type {
  CertificateStatus,
  ManagedCertificateSpec,
  ManagerEvents,
  ObtainReason,
  StaticCertificateSpec,
} from './types.js';

export type * from './types.js';

export interface CertificateManagerOptions {
  readonly storage: Storage;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly retry?: RetryBackoff;
  /** How many SecureContexts stay built; the rest are rebuilt from storage on demand. */
  readonly contextCacheSize?: number;
  /** Lease of the per-certificate issuance lock. */
  readonly lockTtlMs?: number;
}

/** What the manager remembers of an installed certificate: enough to schedule and to find it again. */
interface Installed {
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuer: string | undefined;
  /** When renewal is due, jitter included; fixed at install so every decision agrees on it. */
  readonly dueAt: Date;
  readonly load: () => Promise<SecureContext | undefined>;
}

interface Entry {
  readonly spec: ManagedCertificateSpec | undefined;
  readonly storage: Storage;
  readonly store: CertificateStore;
  readonly id: string;
  readonly names: readonly string[];
  readonly isDefault: boolean;
  installed: Installed | undefined;
  /** The entry this one replaces (a reload changed its settings): it serves until this one installs. */
  replacing: Entry | undefined;
  failures: number;
  lastError: string | undefined;
  nextAttemptAt: Date | undefined;
  running: Promise<StoredCertificate> | undefined;
  /** Wakes the scheduling loop early (a forced renewal, stop()). */
  wake: AbortController;
}

export class CertificateManager {
  readonly events = new TypedEvents<ManagerEvents>();
  readonly #storage: Storage;
  readonly #store: CertificateStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryBackoff;
  readonly #lockTtlMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #index = new NameIndex<Entry>();
  readonly #contexts: ContextCache;
  readonly #stopping = new AbortController();
  readonly #loops = new Set<Promise<void>>();
  #started = false;

  constructor(options: CertificateManagerOptions) {
    this.#storage = options.storage;
    this.#store = new CertificateStore(options.storage);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#retry = options.retry ?? DEFAULT_RETRY_BACKOFF;
    this.#lockTtlMs = options.lockTtlMs ?? 120_000;
    this.#contexts = new ContextCache(options.contextCacheSize ?? 1_000);
  }

  /**
   * Adds a certificate to manage. After start(), what storage holds for it is installed first and its
   * schedule begins at once.
   */
  add(spec: ManagedCertificateSpec): void {
    if (spec.names.length === 0) throw new TypeError(`certificate ${spec.id} has no names`);
    const entry = this.#newEntry(spec.id, spec.names, spec);
    if (this.#started) this.#loadAndLaunch(entry);
  }

  /**
   * Replaces a managed certificate's settings (a reload changed them). The current certificate keeps
   * serving until the new settings produce one: with the same names it simply carries over; with other
   * names the old one serves its names until the new certificate is installed.
   */
  replace(spec: ManagedCertificateSpec): void {
    const old = this.#entries.get(spec.id);
    if (!old) {
      this.add(spec);
      return;
    }
    old.wake.abort();
    this.#entries.delete(spec.id);
    const entry = this.#newEntry(spec.id, spec.names, spec);
    const sameNames = sameNameSet(old.names, spec.names);
    entry.replacing = old.replacing ?? old;
    if (sameNames && old.installed) {
      entry.installed = { ...old.installed };
      this.#index.set(entry.names, entry, entry.isDefault);
      this.#retire(entry);
    }
    if (this.#started) this.#loadAndLaunch(entry);
  }

  /** Adds a certificate the operator provides (no renewal). Throws when the PEM does not hold together. */
  addStatic(spec: StaticCertificateSpec): void {
    const context = createSecureContext({ cert: spec.certificatePem, key: spec.privateKeyPem });
    const info = parseCertificate(spec.certificatePem);
    const names = spec.names?.length ? spec.names : info.names;
    if (names.length === 0)
      throw new TypeError(`static certificate ${spec.id} names no DNS names; give subjects`);
    const entry = this.#newEntry(spec.id, names, undefined, spec.isDefault);
    entry.installed = {
      serialNumber: info.serialNumber,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      issuer: info.issuerCommonName ?? info.issuer,
      dueAt: info.notAfter,
      load: async () => context,
    };
    this.#index.set(names, entry, entry.isDefault);
  }

  /** Removes a certificate from serving and scheduling (e.g. after a config reload dropped it). */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    entry.wake.abort();
    this.#entries.delete(id);
    this.#index.delete(entry.names, entry);
    this.#contexts.delete(entry);
    if (entry.replacing) {
      this.#index.delete(entry.replacing.names, entry.replacing);
      this.#contexts.delete(entry.replacing);
    }
  }

  /**
   * Loads what storage already holds for every managed certificate, then starts each one's schedule:
   * missing certificates are obtained in the background. Resolves once the stored ones are installed.
   */
  async start(): Promise<void> {
    await this.loadStored();
    this.#started = true;
    for (const entry of this.#entries.values()) this.#launch(entry);
  }

  /** Installs what storage holds for every managed certificate, without scheduling anything (CLI use). */
  async loadStored(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => this.#loadStored(entry)));
  }

  /** Stops scheduling and aborts work in flight; installed certificates keep being served. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error('the certificate manager is stopping'));
    for (const entry of this.#entries.values()) entry.wake.abort();
    await Promise.allSettled([...this.#loops]);
  }

  /**
   * The SecureContext for a TLS client's SNI name: exact name, then wildcard, then (with `fallback`)
   * the default certificate. Undefined when nothing fits.
   */
  async secureContextFor(serverName: string | undefined, options: { fallback?: boolean } = {}) {
    const entry =
      options.fallback === false ? this.#index.matchExact(serverName) : this.#index.match(serverName);
    if (!entry?.installed) return undefined;
    return this.#contexts.get(entry, entry.installed.load);
  }

  /**
   * The SecureContext of one certificate (by id) for a listener pinned to it: served when the name is
   * its own or the client sent no SNI, or for any name with `fallback`. Another certificate that covers
   * the name exactly is preferred over a fallback.
   */
  async secureContextForCertificate(
    id: string,
    serverName: string | undefined,
    options: { fallback: boolean },
  ) {
    const pinned = this.#entries.get(id);
    if (!pinned?.installed) return this.secureContextFor(serverName, { fallback: false });
    const exact = this.#index.matchExact(serverName);
    if (serverName === undefined || exact === pinned || covers(pinned.names, serverName))
      return this.#contexts.get(pinned, pinned.installed.load);
    if (exact?.installed) return this.#contexts.get(exact, exact.installed.load);
    return options.fallback ? this.#contexts.get(pinned, pinned.installed.load) : undefined;
  }

  /** A `tls.createServer({ SNICallback })` callback; unknown names get the default certificate, if any. */
  readonly sniCallback = (
    serverName: string,
    callback: (error: Error | null, context?: SecureContext) => void,
  ) => {
    this.secureContextFor(serverName).then(
      (context) => callback(null, context),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  };

  /** Obtains a certificate now, whether due or not (`force`), or only when due or missing. */
  async renew(
    id: string,
    options: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<StoredCertificate | undefined> {
    const entry = this.#entries.get(id);
    if (!entry?.spec) throw new TypeError(`no managed certificate with id ${JSON.stringify(id)}`);
    const reason = this.#reasonToObtain(entry, options.force === true);
    if (!reason) return undefined;
    return this.#obtainOnce(entry, reason, options.signal ?? this.#stopping.signal);
  }

  status(): CertificateStatus[] {
    return [...this.#entries.values()].map((entry) => ({
      id: entry.id,
      names: entry.names,
      managed: entry.spec !== undefined,
      issuer: entry.installed?.issuer,
      serialNumber: entry.installed?.serialNumber,
      notAfter: entry.installed?.notAfter,
      nextAttemptAt: entry.nextAttemptAt,
      failures: entry.failures,
      lastError: entry.lastError,
      obtaining: entry.running !== undefined,
    }));
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  #newEntry(
    id: string,
    names: readonly string[],
    spec: ManagedCertificateSpec | undefined,
    isDefault?: boolean,
  ) {
    if (this.#entries.has(id))
      throw new TypeError(`a certificate with id ${JSON.stringify(id)} is already managed`);
    const entry: Entry = {
      spec,
      storage: spec?.storage ?? this.#storage,
      store: spec?.storage ? new CertificateStore(spec.storage) : this.#store,
      id,
      names,
      isDefault: isDefault ?? spec?.isDefault ?? false,
      installed: undefined,
      replacing: undefined,
      failures: 0,
      lastError: undefined,
      nextAttemptAt: undefined,
      running: undefined,
      wake: new AbortController(),
    };
    // Indexed (served) only once it has a certificate: until then a replaced entry keeps serving.
    this.#entries.set(id, entry);
    return entry;
  }

  #loadAndLaunch(entry: Entry): void {
    this.#loadStored(entry)
      .catch(() => {
        // Unreadable storage shows up again, reported, when the schedule tries to obtain.
      })
      .finally(() => {
        if (this.#entries.get(entry.id) === entry && !this.#stopping.signal.aborted) this.#launch(entry);
      });
  }

  /** Stops serving what the entry replaced, now that the entry serves. */
  #retire(entry: Entry): void {
    const old = entry.replacing;
    if (!old) return;
    entry.replacing = undefined;
    this.#index.delete(old.names, old);
    this.#contexts.delete(old);
  }

  async #loadStored(entry: Entry): Promise<void> {
    if (!entry.spec || entry.installed) return;
    const stored = await entry.store.load(entry.spec.issuer.id, entry.names, this.#stopping.signal);
    if (stored) this.#install(entry, stored);
  }

  #install(entry: Entry, stored: StoredCertificate): void {
    const { issuer } = entry.spec ?? {};
    const keysIssuer = issuer?.id ?? stored.issuerId;
    const names = entry.names;
    this.#contexts.delete(entry);
    entry.installed = {
      serialNumber: stored.info.serialNumber,
      notBefore: stored.info.notBefore,
      notAfter: stored.info.notAfter,
      issuer: stored.info.issuerCommonName ?? stored.info.issuer,
      dueAt: renewalDueAt(
        stored.info.notBefore,
        stored.info.notAfter,
        entry.spec?.renewBeforeMs ?? 0,
        this.#random,
      ),
      // Rebuilt from storage when evicted from the cache; the PEMs are not kept in memory.
      load: async () => {
        const again = await entry.store.load(keysIssuer, names, this.#stopping.signal);
        return again ? contextOf(again) : undefined;
      },
    };
    this.#contexts.put(entry, contextOf(stored));
    this.#index.set(names, entry, entry.isDefault);
    this.#retire(entry);
    this.events.emit('certificate-installed', {
      id: entry.id,
      names,
      serialNumber: stored.info.serialNumber,
      notAfter: stored.info.notAfter,
    });
  }

  #launch(entry: Entry): void {
    if (!entry.spec) return;
    const loop = this.#schedule(entry).finally(() => this.#loops.delete(loop));
    this.#loops.add(loop);
  }

  /** One loop per certificate: sleep until its next attempt, obtain, repeat. Ends on stop()/remove(). */
  async #schedule(entry: Entry): Promise<void> {
    while (!this.#stopping.signal.aborted && this.#entries.get(entry.id) === entry) {
      const at = this.#nextAttempt(entry);
      entry.nextAttemptAt = at;
      this.events.emit('scheduled', { id: entry.id, names: entry.names, nextAttemptAt: at });
      try {
        const delay = at.getTime() - this.#clock.now();
        if (delay > 0) await this.#clock.sleep(delay, entry.wake.signal);
      } catch {
        if (this.#stopping.signal.aborted || this.#entries.get(entry.id) !== entry) return;
        entry.wake = new AbortController(); // Woken early: recompute the time.
        continue;
      }
      const reason = this.#reasonToObtain(entry, false);
      if (!reason) continue;
      await this.#obtainOnce(entry, reason, this.#stopping.signal).catch(() => {
        // Already recorded and reported by #obtainOnce; the loop computes the retry time.
      });
    }
  }

  #nextAttempt(entry: Entry): Date {
    const now = this.#clock.now();
    if (entry.failures > 0 && entry.nextAttemptAt && entry.nextAttemptAt.getTime() > now)
      return entry.nextAttemptAt;
    return entry.installed?.dueAt ?? new Date(now);
  }

  #reasonToObtain(entry: Entry, force: boolean): ObtainReason | undefined {
    if (force) return 'forced';
    if (!entry.installed) return 'missing';
    return entry.installed.dueAt.getTime() <= this.#clock.now() ? 'due' : undefined;
  }

  /** Obtains for one entry, joining an attempt already in flight instead of starting a second one. */
  #obtainOnce(entry: Entry, reason: ObtainReason, signal: AbortSignal): Promise<StoredCertificate> {
    if (!entry.running) {
      entry.running = this.#obtain(entry, reason, signal).finally(() => {
        entry.running = undefined;
      });
    }
    return entry.running;
  }

  async #obtain(entry: Entry, reason: ObtainReason, signal: AbortSignal): Promise<StoredCertificate> {
    const spec = entry.spec;
    if (!spec) throw new TypeError(`certificate ${entry.id} is not managed`);
    this.events.emit('obtaining', { id: entry.id, names: entry.names, reason });
    try {
      const stored = await obtainUnderLock(
        {
          spec,
          reason,
          storage: entry.storage,
          store: entry.store,
          installedSerial: entry.installed?.serialNumber,
          lockTtlMs: this.#lockTtlMs,
          now: this.#clock.now(),
        },
        signal,
      );
      if (stored.info.serialNumber !== entry.installed?.serialNumber) {
        this.events.emit('obtained', {
          id: spec.id,
          names: spec.names,
          serialNumber: stored.info.serialNumber,
          notAfter: stored.info.notAfter,
          issuerId: spec.issuer.id,
        });
      }
      entry.failures = 0;
      entry.lastError = undefined;
      if (stored.info.serialNumber !== entry.installed?.serialNumber) {
        this.#install(entry, stored);
        await this.#runAfterObtained(entry, spec, stored, signal);
      }
      return stored;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (!signal.aborted) this.#recordFailure(entry, failure);
      throw failure;
    }
  }

  async #runAfterObtained(
    entry: Entry,
    spec: ManagedCertificateSpec,
    stored: StoredCertificate,
    signal: AbortSignal,
  ) {
    if (!spec.afterObtained) return;
    try {
      await spec.afterObtained(stored, signal);
    } catch (error) {
      this.events.emit('hook-failed', {
        id: entry.id,
        names: entry.names,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  #recordFailure(entry: Entry, error: Error): void {
    entry.failures++;
    entry.lastError = error.message;
    const retryAfter =
      error instanceof TlswardError && 'retryAfter' in error
        ? (error.retryAfter as Date | undefined)
        : undefined;
    entry.nextAttemptAt = retryAt(this.#clock.now(), entry.failures, this.#retry, retryAfter);
    this.events.emit('renewal-failed', {
      id: entry.id,
      names: entry.names,
      error,
      failures: entry.failures,
      nextAttemptAt: entry.nextAttemptAt,
      expired: entry.installed !== undefined && entry.installed.notAfter.getTime() <= this.#clock.now(),
      missing: entry.installed === undefined,
    });
  }
}

function contextOf(stored: StoredCertificate): SecureContext {
  return createSecureContext({ cert: stored.fullchainPem, key: privateKeyToPem(stored.privateKey) });
}
