// Certificates in storage, in the file names certbot users know (cert.pem, chain.pem, fullchain.pem,
// privkey.pem) plus metadata.json. Each file is written atomically; metadata.json is written last and
// names the serial, so a set torn by a crash (new key, old certificate) is detected on load and treated
// as missing instead of being served.
import type { KeyObject } from 'node:crypto';
import {
  type CertificateInfo,
  certificateMatchesKey,
  parseCertificate,
  splitPemChain,
} from '../crypto/certificate.js';
import { keyTypeOf, privateKeyFromPem, privateKeyToPem } from '../crypto/keys.js';
import type { IssuedCertificate } from '../issuers/issuer.js';
import { type CertificateKeys, certificateKeys, certificateName } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';

export interface CertificateMetadata {
  readonly names: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly keyType: string | undefined;
  /** The CA's URL of the certificate (ACME), for revocation. */
  readonly url: string | undefined;
  readonly issuerId: string;
  readonly storedAt: string;
}

export interface StoredCertificate extends IssuedCertificate {
  readonly issuerId: string;
  readonly keys: CertificateKeys;
  readonly metadata: CertificateMetadata;
}

export class CertificateStore {
  readonly #storage: Storage;

  constructor(storage: Storage) {
    this.#storage = storage;
  }

  keysFor(issuerId: string, names: readonly string[]): CertificateKeys {
    return certificateKeys(issuerId, certificateName([...names]));
  }

  async save(issuerId: string, issued: IssuedCertificate, signal: AbortSignal): Promise<StoredCertificate> {
    const keys = this.keysFor(issuerId, issued.names);
    const metadata = metadataOf(issuerId, issued);
    const put = (key: string, text: string) => this.#storage.put(key, Buffer.from(text), { signal });
    await put(keys.privateKey, privateKeyToPem(issued.privateKey));
    await put(keys.certificate, issued.certificatePem);
    await put(keys.chain, issued.chainPem);
    await put(keys.fullchain, issued.fullchainPem);
    await put(keys.metadata, `${JSON.stringify(metadata, null, 2)}\n`);
    return { ...issued, issuerId, keys, metadata };
  }

  /**
   * Only metadata.json: enough to schedule and to index a certificate at start-up (one small read instead
   * of three files and two parses per certificate); the PEMs are read on first use with loadPems().
   */
  async loadMetadata(issuerId: string, names: readonly string[], signal: AbortSignal) {
    const bytes = await this.#storage.get(this.keysFor(issuerId, names).metadata, { signal });
    if (!bytes) return undefined;
    try {
      const metadata = JSON.parse(Buffer.from(bytes).toString('utf8')) as CertificateMetadata;
      const notBefore = Date.parse(metadata.notBefore);
      const notAfter = Date.parse(metadata.notAfter);
      return Number.isNaN(notBefore) || Number.isNaN(notAfter)
        ? undefined
        : { ...metadata, notBefore, notAfter };
    } catch {
      return undefined;
    }
  }

  /** The served PEMs, as stored; undefined when either is missing. createSecureContext checks they match. */
  async loadPems(issuerId: string, names: readonly string[], signal: AbortSignal) {
    const keys = this.keysFor(issuerId, names);
    const [fullchain, key] = await Promise.all([
      this.#storage.get(keys.fullchain, { signal }),
      this.#storage.get(keys.privateKey, { signal }),
    ]);
    if (!fullchain || !key) return undefined;
    return {
      fullchainPem: Buffer.from(fullchain).toString('utf8'),
      privateKeyPem: Buffer.from(key).toString('utf8'),
    };
  }

  /** The stored certificate for exactly these names, or undefined when missing or not whole. */
  async load(
    issuerId: string,
    names: readonly string[],
    signal: AbortSignal,
  ): Promise<StoredCertificate | undefined> {
    const keys = this.keysFor(issuerId, names);
    const get = async (key: string) => {
      const bytes = await this.#storage.get(key, { signal });
      return bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');
    };
    const [metadataText, keyPem, fullchainPem] = await Promise.all([
      get(keys.metadata),
      get(keys.privateKey),
      get(keys.fullchain),
    ]);
    if (!metadataText || !keyPem || !fullchainPem) return undefined;
    try {
      const metadata = JSON.parse(metadataText) as CertificateMetadata;
      const privateKey = privateKeyFromPem(keyPem);
      const [leaf, ...intermediates] = splitPemChain(fullchainPem);
      if (!leaf || !certificateMatchesKey(leaf, privateKey)) return undefined;
      const info = parseCertificate(leaf);
      if (info.serialNumber !== metadata.serialNumber) return undefined;
      return {
        names: metadata.names,
        privateKey,
        certificatePem: leaf,
        chainPem: intermediates.join(''),
        fullchainPem,
        info,
        ...(metadata.url ? { url: metadata.url } : {}),
        issuerId,
        keys,
        metadata,
      };
    } catch {
      return undefined; // Unreadable means not whole: a new certificate will replace it.
    }
  }
}

function metadataOf(issuerId: string, issued: IssuedCertificate): CertificateMetadata {
  const info: CertificateInfo = issued.info;
  return {
    names: issued.names,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    issuer: info.issuerCommonName ?? info.issuer,
    serialNumber: info.serialNumber,
    keyType: keyTypeOf(issued.privateKey as KeyObject),
    url: issued.url,
    issuerId,
    storedAt: new Date().toISOString(),
  };
}
