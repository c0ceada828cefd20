// The running daemon: a validated configuration turned into listeners, providers and a certificate
// manager; reloaded in place (what changed is replaced, the rest keeps running) and stopped in order.
import { CertificateManager, type ManagerEvents } from '../manager/certificate-manager.js';
import { createSharedTlsListener } from '../server/alpn-tls-server.js';
import { createHttpChallengeServer } from '../server/http-challenge.js';
import { HttpChallenges } from '../solvers/http-01.js';
import { TlsAlpnChallenges } from '../solvers/tls-alpn-01.js';
import { FileStorage } from '../storage/fs.js';
import {
  type AcmeProviderConfig,
  type DaemonConfig,
  type ListenerConfig,
  unservedListeners,
} from './config/model.js';
import { DEFAULT_CACHE } from './defaults.js';
import { managedSpec } from './deliver.js';
import { type RunningListener, startListener } from './listeners.js';
import type { Logger } from './logger.js';
import { OnDemandPort } from './on-demand-port.js';
import { buildProvider, type Provider } from './providers.js';
import { saveCertificateState } from './state.js';

export { DEFAULT_CACHE } from './defaults.js';

export interface DaemonOptions {
  readonly logger: Logger;
  /** Cache folder of providers that set none. */
  readonly defaultCache?: string;
  /** How long open connections may finish when a listener closes. */
  readonly drainMs?: number;
  /** How many SecureContexts stay built (~21 KB each); default the manager's (10,000). */
  readonly contextCacheSize?: number;
}

const STATIC_PREFIX = 'certificate:';

export class Daemon {
  readonly manager: CertificateManager;
  readonly #options: DaemonOptions;
  readonly #log: Logger;
  readonly #tlsAlpn = new TlsAlpnChallenges();
  readonly #http = new HttpChallenges();
  readonly #storages = new Map<string, FileStorage>();
  readonly #onDemand = new Map<string, OnDemandPort>();
  readonly #listeners = new Map<string, RunningListener>();
  #providers = new Map<string, Provider>();
  #config: DaemonConfig;

  private constructor(config: DaemonConfig, options: DaemonOptions) {
    this.#config = config;
    this.#options = options;
    this.#log = options.logger;
    this.manager = new CertificateManager({
      storage: this.#storageFor(undefined),
      ...(options.contextCacheSize ? { contextCacheSize: options.contextCacheSize } : {}),
    });
    this.#logManagerEvents();
  }

  /** Binds every listener, installs what the caches hold, and starts obtaining what is missing. */
  static async start(config: DaemonConfig, options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(config, options);
    daemon.#warnUnserved(config);
    try {
      await daemon.#applyCertificates(config);
      await daemon.#applyListeners(config);
      await daemon.manager.start();
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return daemon;
  }

  get config(): DaemonConfig {
    return this.#config;
  }

  /** Applies a new configuration: changed providers and listeners are replaced, the rest keeps running. */
  async reload(config: DaemonConfig): Promise<void> {
    this.#warnUnserved(config);
    await this.#applyCertificates(config);
    await this.#applyListeners(config);
    this.#config = config;
    this.#log.info({ file: config.file }, 'configuration reloaded');
  }

  /** Stops renewing, stops accepting, lets connections drain, then releases everything. */
  async stop(): Promise<void> {
    await this.manager.stop();
    const drainMs = this.#options.drainMs ?? 10_000;
    await Promise.all([...this.#listeners.values()].map((listener) => listener.close(drainMs)));
    this.#listeners.clear();
    await Promise.all([...this.#onDemand.values()].map((port) => port.release()));
  }

  listenerAddresses(): Map<string, readonly { address: string; port: number }[]> {
    return new Map([...this.#listeners].map(([id, listener]) => [id, listener.addresses]));
  }

  async #applyCertificates(config: DaemonConfig): Promise<void> {
    const next = new Map<string, Provider>();
    for (const providerConfig of config.acme.values()) {
      const current = this.#providers.get(providerConfig.id);
      next.set(
        providerConfig.id,
        current && sameSettings(current.config, providerConfig)
          ? current
          : await buildProvider(providerConfig, {
              tlsAlpn: this.#tlsAlpn,
              http: this.#http,
              storageFor: (cache) => this.#storageFor(cache),
              onDemandPort: (type, port) => this.#onDemandPort(config, type, port),
              logger: this.#log,
            }),
      );
    }
    for (const id of this.#providers.keys()) {
      if (!next.has(id)) this.manager.remove(id);
    }
    for (const [id, provider] of next) {
      if (this.#providers.get(id) === provider) continue;
      // A changed provider replaces its entry; what it serves now keeps serving until the new one is ready.
      this.manager.replace(managedSpec(provider, this.#log));
    }
    this.#providers = next;

    for (const id of this.manager.ids()) if (id.startsWith(STATIC_PREFIX)) this.manager.remove(id);
    for (const certificate of config.certificates.values()) {
      this.manager.addStatic({
        id: STATIC_PREFIX + certificate.id,
        certificatePem: certificate.cert,
        privateKeyPem: certificate.privateKey,
        names: certificate.subjects,
        isDefault: certificate.default,
      });
    }
  }

  async #applyListeners(config: DaemonConfig): Promise<void> {
    for (const [id, running] of this.#listeners) {
      const wanted = config.listeners.get(id);
      if (wanted && sameSettings(wanted, running.config)) continue;
      await running.close(this.#options.drainMs ?? 10_000);
      this.#listeners.delete(id);
    }
    for (const listener of config.listeners.values()) {
      if (this.#listeners.has(listener.id) || !listener.served) continue;
      this.#listeners.set(
        listener.id,
        await startListener(listener, {
          manager: this.manager,
          tlsAlpn: this.#tlsAlpn,
          http: this.#http,
          logger: this.#log,
          staticCertificateId: (certificate) => STATIC_PREFIX + certificate,
        }),
      );
    }
  }

  #storageFor(cache: string | undefined): FileStorage {
    const folder = cache ?? this.#options.defaultCache ?? DEFAULT_CACHE;
    let storage = this.#storages.get(folder);
    if (!storage) {
      storage = new FileStorage({ root: folder });
      this.#storages.set(folder, storage);
    }
    return storage;
  }

  /** A responder opened only while an order needs it, for a challenge port that no listener binds. */
  #onDemandPort(
    config: DaemonConfig,
    type: 'tls-alpn-01' | 'http-01',
    port: number,
  ): OnDemandPort | undefined {
    const served = [...config.listeners.values()].some(
      (listener) =>
        listener.served &&
        (type === 'http-01' ? listener.protocol === 'http' : listener.protocol !== 'http') &&
        listener.bind.some((bind) => bind.port === port),
    );
    if (served) return undefined;
    const key = `${type}/${port}`;
    let onDemand = this.#onDemand.get(key);
    if (!onDemand) {
      onDemand = new OnDemandPort(
        port,
        () =>
          type === 'http-01'
            ? createHttpChallengeServer({ challenges: this.#http, otherRequests: 'not-found' })
            : createSharedTlsListener({ challenges: this.#tlsAlpn }),
        (address) =>
          this.#log.info({ port: address.port, type }, 'challenge responder opened for a pending order'),
      );
      this.#onDemand.set(key, onDemand);
    }
    return onDemand;
  }

  /** Mail protocols are accepted in the file (Stalwart's configuration loads) but not served yet. */
  #warnUnserved(config: DaemonConfig): void {
    for (const listener of unservedListeners(config)) {
      this.#log.warn(
        { listener: listener.id, protocol: listener.protocol },
        'mail protocols are not served yet: listener skipped (use a tcp-proxy listener or the export folder)',
      );
    }
  }

  #logManagerEvents(): void {
    const events = this.manager.events;
    const persist = (id: string) => {
      const provider = this.#providers.get(id);
      const status = this.manager.status().find((entry) => entry.id === id);
      if (provider && status) {
        saveCertificateState(provider.storage, id, status).catch((error: unknown) =>
          this.#log.warn({ provider: id, error: String(error) }, 'could not save the renewal state'),
        );
      }
    };
    events.on('obtaining', (e: ManagerEvents['obtaining']) =>
      this.#log.info({ provider: e.id, names: e.names, reason: e.reason }, 'obtaining a certificate'),
    );
    events.on('obtained', (e: ManagerEvents['obtained']) => {
      this.#log.info(
        { provider: e.id, names: e.names, serial: e.serialNumber, notAfter: e.notAfter.toISOString() },
        'certificate obtained',
      );
    });
    events.on('scheduled', (e: ManagerEvents['scheduled']) => {
      this.#log.debug(
        { provider: e.id, nextAttempt: e.nextAttemptAt.toISOString() },
        'next attempt scheduled',
      );
      // After an attempt only: at start-up the state follows from the stored certificate (and 100,000
      // certificates must not mean 100,000 writes).
      if (e.afterAttempt) persist(e.id);
    });
    events.on('certificate-installed', (e: ManagerEvents['certificate-installed']) =>
      this.#log[e.source === 'issued' ? 'info' : 'debug'](
        { provider: e.id, serial: e.serialNumber, notAfter: e.notAfter.toISOString(), source: e.source },
        'certificate installed',
      ),
    );
    events.on('renewal-failed', (e: ManagerEvents['renewal-failed']) => {
      const fields = {
        provider: e.id,
        names: e.names,
        error: e.error.message,
        failures: e.failures,
        nextAttempt: e.nextAttemptAt.toISOString(),
      };
      if (e.expired || e.missing) {
        this.#log.error(
          fields,
          e.missing ? 'no certificate yet: obtaining failed' : 'certificate expired: renewal failed',
        );
      } else {
        this.#log.warn(fields, 'renewal failed; the current certificate keeps serving');
      }
      // The state (failures, last error, next attempt) is saved by the 'scheduled' event that follows.
    });
    events.on('hook-failed', (e: ManagerEvents['hook-failed']) =>
      this.#log.warn({ provider: e.id, error: e.error.message }, 'export or reload hook failed'),
    );
  }
}

function sameSettings(
  a: AcmeProviderConfig | ListenerConfig,
  b: AcmeProviderConfig | ListenerConfig,
): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
