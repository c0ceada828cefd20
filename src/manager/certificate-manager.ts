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
import { DueQueue } from './due-queue.js';
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

/** Enough for the working set of a busy host (10,000 contexts take ~210 MB); see contextCacheSize. */
export const DEFAULT_CONTEXT_CACHE_SIZE = 10_000;
const DEFAULT_CONCURRENCY = 8;

export interface CertificateManagerOptions {
  readonly storage: Storage;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly retry?: RetryBackoff;
  /** How many SecureContexts stay built (~21 KB each); the rest are rebuilt from storage on demand. */
  readonly contextCacheSize?: number;
  /** How many certificates may be obtained at the same time. */
  readonly concurrency?: number;
  /** Lease of the per-certificate issuance lock. */
  readonly lockTtlMs?: number;
}

/** What the manager remembers of an installed certificate: enough to schedule and to find it again. */
interface Installed {
  readonly serialNumber: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuer: string | undefined;
  /** When renewal is due (ms), jitter included; fixed at install so every decision agrees on it. */
  readonly dueAt: number;
  /** Set for certificates the operator gave (static): their context, which never leaves memory. */
  readonly staticContext?: SecureContext;
}

interface Entry {
  readonly spec: ManagedCertificateSpec | undefined;
  readonly store: CertificateStore;
  readonly storage: Storage;
  readonly id: string;
  readonly names: readonly string[];
  readonly isDefault: boolean;
  installed: Installed | undefined;
  /** The entry this one replaces (a reload changed its settings): it serves until this one installs. */
  replacing: Entry | undefined;
  /** Reading what storage holds for it, started at start() or on demand by a handshake. */
  scanned: Promise<void> | undefined;
  failures: number;
  lastError: string | undefined;
  /** When the next attempt is (ms since the epoch); undefined before the first scheduling. */
  nextAttemptAt: number | undefined;
  running: Promise<StoredCertificate> | undefined;
}

/** How many stored certificates are read at once at start-up (a file-descriptor limit must not be hit). */
const SCAN_CONCURRENCY = 64;

export class CertificateManager {
  readonly events = new TypedEvents<ManagerEvents>();
  readonly #storage: Storage;
  readonly #store: CertificateStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #retry: RetryBackoff;
  readonly #lockTtlMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Entries that serve: those with a certificate installed. */
  readonly #index = new NameIndex<Entry>();
  /** Managed entries by their configured names, to find one whose storage has not been read yet. */
  readonly #configured = new NameIndex<Entry>();
  readonly #contexts: ContextCache;
  readonly #queue: DueQueue<Entry>;
  readonly #stopping = new AbortController();
  #started = false;
  #scan: Promise<void> | undefined;

  constructor(options: CertificateManagerOptions) {
    this.#storage = options.storage;
    this.#store = new CertificateStore(options.storage);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#retry = options.retry ?? DEFAULT_RETRY_BACKOFF;
    this.#lockTtlMs = options.lockTtlMs ?? 120_000;
    this.#contexts = new ContextCache(options.contextCacheSize ?? DEFAULT_CONTEXT_CACHE_SIZE);
    this.#queue = new DueQueue(this.#clock, (entry) => this.#attempt(entry), {
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    });
  }

  /** Adds a certificate to manage; after start(), what storage holds is read first, then it is scheduled. */
  add(spec: ManagedCertificateSpec): void {
    if (spec.names.length === 0) throw new TypeError(`certificate ${spec.id} has no names`);
    const entry = this.#newEntry(spec.id, spec.names, spec);
    if (this.#started) void this.#scanAndSchedule(entry);
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
    this.#queue.cancel(old);
    this.#entries.delete(spec.id);
    this.#configured.delete(old.names, old);
    const entry = this.#newEntry(spec.id, spec.names, spec);
    entry.replacing = old.replacing ?? old;
    if (sameNameSet(old.names, spec.names) && old.installed) {
      entry.installed = { ...old.installed, dueAt: this.#dueAt(spec, old.installed) };
      entry.scanned = Promise.resolve();
      this.#index.set(entry.names, entry, entry.isDefault);
      this.#retire(entry);
    }
    if (this.#started) void this.#scanAndSchedule(entry);
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
      notBefore: info.notBefore.getTime(),
      notAfter: info.notAfter.getTime(),
      issuer: info.issuerCommonName ?? info.issuer,
      dueAt: info.notAfter.getTime(),
      staticContext: context,
    };
    entry.scanned = Promise.resolve();
    this.#index.set(names, entry, entry.isDefault);
  }

  /** Removes a certificate from serving and scheduling (e.g. after a config reload dropped it). */
  remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#queue.cancel(entry);
    this.#entries.delete(id);
    this.#configured.delete(entry.names, entry);
    for (const gone of [entry, entry.replacing]) {
      if (!gone) continue;
      this.#index.delete(gone.names, gone);
      this.#contexts.delete(gone);
    }
  }

  /**
   * Starts: reads what storage holds for every managed certificate in the background (a handshake for a
   * name not read yet reads its certificate at once), schedules each one as soon as its state is known,
   * and obtains missing certificates. Resolves at once; ready() resolves when every certificate is read.
   */
  async start(): Promise<void> {
    this.#started = true;
    this.#queue.start();
    this.#scan = this.#scanAll();
  }

  /** Resolves when every managed certificate's stored state has been read (after start or loadStored). */
  async ready(): Promise<void> {
    await this.#scan;
  }

  /** Reads what storage holds for every managed certificate, without scheduling anything (CLI use). */
  async loadStored(): Promise<void> {
    this.#scan ??= this.#scanAll();
    await this.#scan;
  }

  /** Stops scheduling and waits for attempts under way (aborted); installed certificates keep serving. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error('the certificate manager is stopping'));
    await this.#queue.stop();
    await this.#scan?.catch(() => {});
  }

  /**
   * The SecureContext for a TLS client's SNI name: exact name, then wildcard, then (with `fallback`)
   * the default certificate. Undefined when nothing fits.
   */
  async secureContextFor(serverName: string | undefined, options: { fallback?: boolean } = {}) {
    await this.#readIfConfigured(serverName);
    const entry =
      options.fallback === false ? this.#index.matchExact(serverName) : this.#index.match(serverName);
    return entry ? this.#contextOf(entry) : undefined;
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
    await pinned?.scanned;
    await this.#readIfConfigured(serverName);
    if (!pinned?.installed) return this.secureContextFor(serverName, { fallback: false });
    const exact = this.#index.matchExact(serverName);
    if (serverName === undefined || exact === pinned || covers(pinned.names, serverName)) {
      return this.#contextOf(pinned);
    }
    if (exact) return this.#contextOf(exact);
    return options.fallback ? this.#contextOf(pinned) : undefined;
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
  async renew(id: string, options: { force?: boolean; signal?: AbortSignal } = {}) {
    const entry = this.#entries.get(id);
    if (!entry?.spec) throw new TypeError(`no managed certificate with id ${JSON.stringify(id)}`);
    await this.#scanEntry(entry);
    const reason = this.#reasonToObtain(entry, options.force === true);
    if (!reason) return undefined;
    try {
      return await this.#obtainOnce(entry, reason, options.signal ?? this.#stopping.signal);
    } finally {
      if (this.#started && this.#entries.get(entry.id) === entry) this.#reschedule(entry, true);
    }
  }

  status(): CertificateStatus[] {
    return [...this.#entries.values()].map((entry) => ({
      id: entry.id,
      names: entry.names,
      managed: entry.spec !== undefined,
      issuer: entry.installed?.issuer,
      serialNumber: entry.installed?.serialNumber,
      notAfter: entry.installed ? new Date(entry.installed.notAfter) : undefined,
      nextAttemptAt: entry.nextAttemptAt === undefined ? undefined : new Date(entry.nextAttemptAt),
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
      scanned: undefined,
      failures: 0,
      lastError: undefined,
      nextAttemptAt: undefined,
      running: undefined,
    };
    // Served (indexed) only once it has a certificate: until then a replaced entry keeps serving.
    this.#entries.set(id, entry);
    if (spec) this.#configured.set(names, entry);
    return entry;
  }

  async #scanAll(): Promise<void> {
    const pending = [...this.#entries.values()];
    let next = 0; // an index, not shift(): shifting a 100,000-entry array each time is quadratic
    const worker = async () => {
      for (let entry = pending[next++]; entry; entry = pending[next++]) {
        if (this.#started) await this.#scanAndSchedule(entry);
        else await this.#scanEntry(entry);
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
  }

  async #scanAndSchedule(entry: Entry): Promise<void> {
    await this.#scanEntry(entry);
    if (this.#entries.get(entry.id) === entry && entry.spec && !this.#stopping.signal.aborted) {
      if (!this.#queue.has(entry) && !entry.running) this.#reschedule(entry, false);
    }
  }

  /** Reads the stored metadata of one entry once (concurrent callers share the read). */
  #scanEntry(entry: Entry): Promise<void> {
    entry.scanned ??= (async () => {
      const spec = entry.spec;
      if (!spec || entry.installed) return;
      const metadata = await entry.store
        .loadMetadata(spec.issuer.id, entry.names, this.#stopping.signal)
        .catch(() => undefined); // unreadable storage shows up, reported, when an attempt is made
      if (!metadata || entry.installed) return;
      this.#setInstalled(entry, {
        serialNumber: metadata.serialNumber,
        notBefore: metadata.notBefore,
        notAfter: metadata.notAfter,
        issuer: metadata.issuer,
      });
      this.events.emit('certificate-installed', {
        id: entry.id,
        names: entry.names,
        serialNumber: metadata.serialNumber,
        notAfter: new Date(metadata.notAfter),
        source: 'storage',
      });
    })();
    return entry.scanned;
  }

  /** A handshake for a configured name whose certificate has not been read yet reads it now. */
  async #readIfConfigured(serverName: string | undefined): Promise<void> {
    const configured = this.#configured.matchExact(serverName);
    if (configured && !configured.installed) await this.#scanEntry(configured);
  }

  #contextOf(entry: Entry): Promise<SecureContext | undefined> | undefined {
    const installed = entry.installed;
    if (!installed) return undefined;
    if (installed.staticContext) return Promise.resolve(installed.staticContext);
    return this.#contexts.get(entry, () => this.#loadContext(entry));
  }

  /** Builds a context from the stored PEMs; a pair that does not match (a torn write) is obtained anew. */
  async #loadContext(entry: Entry): Promise<SecureContext | undefined> {
    const spec = entry.spec;
    if (!spec) return undefined;
    const pems = await entry.store.loadPems(spec.issuer.id, entry.names, this.#stopping.signal);
    try {
      if (pems) return createSecureContext({ cert: pems.fullchainPem, key: pems.privateKeyPem });
    } catch {
      // Falls through: the stored certificate and key do not belong together.
    }
    if (entry.installed && !entry.running) {
      entry.installed = undefined;
      this.#index.delete(entry.names, entry);
      if (this.#started) this.#reschedule(entry, false);
    }
    return undefined;
  }

  /** Records an installed certificate (from storage or just issued) and makes it serve its names. */
  #setInstalled(entry: Entry, facts: Omit<Installed, 'dueAt' | 'staticContext'>): void {
    this.#contexts.delete(entry);
    entry.installed = { ...facts, dueAt: this.#dueAt(entry.spec, facts) };
    this.#index.set(entry.names, entry, entry.isDefault);
    this.#retire(entry);
  }

  #dueAt(spec: ManagedCertificateSpec | undefined, facts: { notBefore: number; notAfter: number }): number {
    return renewalDueAt(
      new Date(facts.notBefore),
      new Date(facts.notAfter),
      spec?.renewBeforeMs ?? 0,
      this.#random,
    ).getTime();
  }

  /** Stops serving what the entry replaced, now that the entry serves. */
  #retire(entry: Entry): void {
    const old = entry.replacing;
    if (!old) return;
    entry.replacing = undefined;
    this.#index.delete(old.names, old);
    this.#contexts.delete(old);
  }

  #install(entry: Entry, stored: StoredCertificate): void {
    this.#setInstalled(entry, {
      serialNumber: stored.info.serialNumber,
      notBefore: stored.info.notBefore.getTime(),
      notAfter: stored.info.notAfter.getTime(),
      issuer: stored.info.issuerCommonName ?? stored.info.issuer,
    });
    this.#contexts.put(entry, contextOf(stored));
    this.events.emit('certificate-installed', {
      id: entry.id,
      names: entry.names,
      serialNumber: stored.info.serialNumber,
      notAfter: stored.info.notAfter,
      source: 'issued',
    });
  }

  /** One scheduled attempt: obtain when missing or due, then schedule the next one. */
  async #attempt(entry: Entry): Promise<void> {
    if (this.#entries.get(entry.id) !== entry) return;
    const reason = this.#reasonToObtain(entry, false);
    try {
      if (reason) await this.#obtainOnce(entry, reason, this.#stopping.signal);
    } catch {
      // Recorded and reported by #obtain; the retry time is computed below.
    } finally {
      if (this.#entries.get(entry.id) === entry && !this.#stopping.signal.aborted)
        this.#reschedule(entry, true);
    }
  }

  #reschedule(entry: Entry, afterAttempt: boolean): void {
    const now = this.#clock.now();
    const retrying = entry.failures > 0 && entry.nextAttemptAt !== undefined && entry.nextAttemptAt > now;
    const at = retrying ? (entry.nextAttemptAt ?? now) : (entry.installed?.dueAt ?? now);
    entry.nextAttemptAt = at;
    this.#queue.schedule(entry, at);
    this.events.emit('scheduled', {
      id: entry.id,
      names: entry.names,
      nextAttemptAt: new Date(at),
      afterAttempt,
    });
  }

  #reasonToObtain(entry: Entry, force: boolean): ObtainReason | undefined {
    if (force) return 'forced';
    if (!entry.installed) return 'missing';
    return entry.installed.dueAt <= this.#clock.now() ? 'due' : undefined;
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
      entry.failures = 0;
      entry.lastError = undefined;
      if (stored.info.serialNumber !== entry.installed?.serialNumber) {
        this.events.emit('obtained', {
          id: spec.id,
          names: spec.names,
          serialNumber: stored.info.serialNumber,
          notAfter: stored.info.notAfter,
          issuerId: spec.issuer.id,
        });
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
    const next = retryAt(this.#clock.now(), entry.failures, this.#retry, retryAfter);
    entry.nextAttemptAt = next.getTime();
    this.events.emit('renewal-failed', {
      id: entry.id,
      names: entry.names,
      error,
      failures: entry.failures,
      nextAttemptAt: next,
      expired: entry.installed !== undefined && entry.installed.notAfter <= this.#clock.now(),
      missing: entry.installed === undefined,
    });
  }
}

function contextOf(stored: StoredCertificate): SecureContext {
  return createSecureContext({ cert: stored.fullchainPem, key: privateKeyToPem(stored.privateKey) });
}
