// The ACME account of an issuer, kept in storage: its key (made once, stored before the CA ever sees
// it, so a crash cannot orphan an account) and its registration (the account URL). A stored URL the CA
// has forgotten (a test CA restarted, an account deactivated) is recovered by looking the key up, and
// only then by registering anew.
import type { KeyObject } from 'node:crypto';
import type { AcmeClient, NewAccountOptions } from '../acme/client.js';
import { generatePrivateKey, privateKeyFromPem, privateKeyToPem } from '../crypto/keys.js';
import { AcmeProblemError, StorageError } from '../errors.js';
import { accountKeys, accountLockName } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';

export interface AccountRegistration {
  readonly url: string;
  readonly directoryUrl: string;
  readonly contact: readonly string[];
  readonly createdAt: string;
}

export interface StoredAccount {
  readonly key: KeyObject;
  readonly registration: AccountRegistration | undefined;
  /** True when the key was made just now: then no CA can know it yet. */
  readonly keyIsNew: boolean;
}

export class AcmeAccountStore {
  readonly #storage: Storage;
  readonly #keys: { privateKey: string; registration: string };
  readonly #lockName: string;

  constructor(storage: Storage, issuerId: string, accountName: string) {
    this.#storage = storage;
    this.#keys = accountKeys(issuerId, accountName);
    this.#lockName = accountLockName(issuerId, accountName);
  }

  /** The stored account, making and storing a key first when there is none. */
  async load(signal: AbortSignal): Promise<StoredAccount> {
    return this.#withLock(signal, async () => {
      const storedKey = await this.#storage.get(this.#keys.privateKey, { signal });
      if (!storedKey) {
        const key = generatePrivateKey('ec256');
        await this.#storage.put(this.#keys.privateKey, Buffer.from(privateKeyToPem(key)), { signal });
        return { key, registration: undefined, keyIsNew: true };
      }
      const key = parseStoredKey(storedKey, this.#keys.privateKey);
      const registration = await this.#storage.get(this.#keys.registration, { signal });
      return {
        key,
        registration: registration ? parseRegistration(registration) : undefined,
        keyIsNew: false,
      };
    });
  }

  async saveRegistration(registration: AccountRegistration, signal: AbortSignal): Promise<void> {
    await this.#storage.put(
      this.#keys.registration,
      Buffer.from(`${JSON.stringify(registration, null, 2)}\n`),
      {
        signal,
      },
    );
  }

  async #withLock<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    const lock = await this.#storage.lock(this.#lockName, { signal });
    try {
      return await work();
    } finally {
      await lock.release();
    }
  }
}

/**
 * Makes sure `client` acts for a registered account: registers one when none is stored, and stores it.
 * A key that may already be known to the CA is looked up first (onlyReturnExisting); a new one is
 * registered straight away. Returns true when the account was registered or found at the CA now,
 * false when the stored one is used.
 */
export async function ensureRegistered(
  client: AcmeClient,
  store: AcmeAccountStore,
  options: NewAccountOptions & { keyIsNew: boolean },
  signal: AbortSignal,
): Promise<boolean> {
  if (client.accountUrl) return false;
  const existing = options.keyIsNew ? undefined : await client.findAccount(signal);
  const account = existing ?? (await client.createAccount(options, signal));
  await store.saveRegistration(
    {
      url: account.url,
      directoryUrl: client.directoryUrl,
      contact: account.contact ?? [],
      createdAt: new Date().toISOString(),
    },
    signal,
  );
  return true;
}

/** True for the answers a CA gives when the account URL we sent is not (or no longer) an account. */
export function isUnknownAccount(error: unknown): boolean {
  return (
    error instanceof AcmeProblemError &&
    (error.shortType === 'accountDoesNotExist' ||
      (error.shortType === 'unauthorized' && /account/i.test(error.detail)) ||
      (error.shortType === 'malformed' &&
        /account/i.test(error.detail) &&
        /(not found|does not exist)/i.test(error.detail)))
  );
}

function parseStoredKey(pem: Uint8Array, key: string): KeyObject {
  try {
    return privateKeyFromPem(pem);
  } catch (error) {
    // The message names the storage key only: the bytes are secret.
    throw new StorageError(`the account key at ${key} is not a readable private key`, { cause: error });
  }
}

function parseRegistration(bytes: Uint8Array): AccountRegistration | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<AccountRegistration>;
    return typeof parsed.url === 'string' ? (parsed as AccountRegistration) : undefined;
  } catch {
    return undefined; // A damaged registration is recovered by looking the key up at the CA.
  }
}
