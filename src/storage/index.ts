// The storage layer's public face: the contract, the key builder and the built-in backends.
export { FileStorage, type FileStorageOptions } from './fs.js';
export {
  type AccountKeys,
  accountKeys,
  accountLockName,
  accountNameFor,
  assertKey,
  assertPrefix,
  type CertificateKeys,
  certificateKeys,
  certificateName,
  isPrivateKeyPath,
  isSafeName,
  issueLockName,
  issuerIdFromDirectoryUrl,
  KEY_MAX,
  SAFE_NAME_MAX,
  safeName,
} from './keys.js';
export {
  acquireWithBackoff,
  DEFAULT_LOCK_TTL_MS,
  LeaseLock,
  type LeaseRecord,
  lockTtl,
  MIN_LOCK_TTL_MS,
  type WakeSource,
} from './lease.js';
export { MemoryStorage, type MemoryStorageOptions } from './memory.js';
export type { Lock, Storage, StorageOptions } from './storage.js';
