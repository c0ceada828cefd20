// Private keys: generation, PEM import/export, and the X.509 signature algorithm that goes with each key.
// Node's own crypto does all the work; this file only fixes the choices (curves, sizes, hashes) in one place.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

export const KEY_TYPES = ['ec256', 'ec384', 'rsa2048', 'rsa4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ec256';

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

/** Makes a fresh private key of the given type. */
export function generatePrivateKey(type: KeyType = DEFAULT_KEY_TYPE): KeyObject {
  switch (type) {
    case 'ec256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ec384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
  }
}

/** The key type of an existing private key, or undefined for keys tlsward does not make. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec256';
    if (details?.namedCurve === 'secp384r1') return 'ec384';
  }
  if (key.asymmetricKeyType === 'rsa') {
    if (details?.modulusLength === 2048) return 'rsa2048';
    if (details?.modulusLength === 4096) return 'rsa4096';
  }
  return undefined;
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function privateKeyFromPem(pem: string | Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
}

/** The public half; Node 20's createPublicKey throws when handed a public KeyObject, hence the check. */
export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** DER SubjectPublicKeyInfo of a key. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  return publicKeyOf(key).export({ format: 'der', type: 'spki' });
}

/** How an X.509 structure (certificate, CSR) is signed with this key. */
export interface X509SignatureAlgorithm {
  /** OID of the AlgorithmIdentifier, e.g. ecdsa-with-SHA256. */
  readonly oid: string;
  /** RSA's PKCS#1 v1.5 identifiers carry an explicit NULL parameter; ECDSA's carry none. */
  readonly nullParameters: boolean;
  readonly hash: 'sha256' | 'sha384';
}

export function x509SignatureAlgorithm(key: KeyObject): X509SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ec') {
    return key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
      ? { oid: '1.2.840.10045.4.3.3', nullParameters: false, hash: 'sha384' }
      : { oid: '1.2.840.10045.4.3.2', nullParameters: false, hash: 'sha256' };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { oid: '1.2.840.113549.1.1.11', nullParameters: true, hash: 'sha256' };
  }
  throw new TypeError(`unsupported key type for X.509 signing: ${key.asymmetricKeyType}`);
}

/** Signs DER-encoded to-be-signed bytes as X.509 wants it (ECDSA signatures in DER form). */
export function signX509(tbs: Uint8Array, key: KeyObject): Buffer {
  return sign(x509SignatureAlgorithm(key).hash, tbs, key);
}
