// PKCS#10 certificate signing requests for ACME finalize (RFC 8555 section 7.4, RFC 2986): every name in
// the subjectAltName extension, the first also as the subject CN (many CAs and tools still look there).
// Laid out with der.ts and signed by node:crypto, like the certificates tlsward makes.
import type { KeyObject } from 'node:crypto';
import {
  bitString,
  explicit,
  nullValue,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  utf8String,
} from './der.js';
import { signX509, subjectPublicKeyInfo, x509SignatureAlgorithm } from './keys.js';
import { toPem } from './pem.js';
import { subjectAltName } from './self-signed.js';

const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** X.520 ub-common-name: a CN longer than 64 characters is invalid, so a long first name goes to the SAN only. */
const MAX_COMMON_NAME = 64;

/** Builds and signs a CSR for `names` (normalized ASCII, the first one primary); returns DER. */
export async function createCsr(key: KeyObject, names: readonly string[]): Promise<Uint8Array> {
  const primary = names[0];
  if (primary === undefined) throw new TypeError('a CSR needs at least one name');
  const subject =
    primary.length <= MAX_COMMON_NAME
      ? sequence(set(sequence(objectIdentifier(OID_COMMON_NAME), utf8String(primary))))
      : sequence();
  const extensions = sequence(
    sequence(objectIdentifier(OID_SUBJECT_ALT_NAME), octetString(subjectAltName(names))),
  );
  const info = sequence(
    smallInteger(0),
    subject,
    subjectPublicKeyInfo(key),
    // attributes [0] IMPLICIT SET OF Attribute: the tag replaces SET's, hence a constructed [0].
    explicit(0, sequence(objectIdentifier(OID_EXTENSION_REQUEST), set(extensions))),
  );
  const signature = x509SignatureAlgorithm(key);
  const algorithm = sequence(
    objectIdentifier(signature.oid),
    ...(signature.nullParameters ? [nullValue()] : []),
  );
  return sequence(info, algorithm, bitString(signX509(info, key)));
}

/** PEM form of a DER CSR, for people and tools that read it. */
export function csrToPem(der: Uint8Array): string {
  return toPem('CERTIFICATE REQUEST', der);
}
