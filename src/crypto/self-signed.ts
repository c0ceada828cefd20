// Self-signed X.509 v3 certificates: the RFC 8737 challenge certificate (one per TLS-ALPN-01 challenge)
// and test fixtures. Laid out with the small DER encoder (der.ts) and signed by node:crypto (keys.ts).

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import {
  bitString,
  booleanTrue,
  type Der,
  explicit,
  implicitPrimitive,
  nullValue,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';
import { signX509, subjectPublicKeyInfo, x509SignatureAlgorithm } from './keys.js';
import { toPem } from './pem.js';

const COMMON_NAME_OID = '2.5.4.3';
const SUBJECT_ALT_NAME_OID = '2.5.29.17';
/** GeneralName CHOICE tag of dNSName. */
const DNS_NAME = 2;

export interface SelfSignedOptions {
  /** The signing key; its public half is the certificate's. */
  readonly key: KeyObject;
  /** Subject and issuer common name (at most 64 characters). */
  readonly commonName: string;
  /** dNSNames of the subjectAltName extension. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extensions besides the subjectAltName. */
  readonly extensions?: readonly RawExtension[];
}

/** An X.509 extension given as its OID, criticality and the DER of its extnValue contents. */
export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Makes and signs the certificate; returns its PEM. */
export async function createSelfSignedCertificate(options: SelfSignedOptions): Promise<string> {
  const signature = x509SignatureAlgorithm(options.key);
  const algorithm = sequence(
    objectIdentifier(signature.oid),
    ...(signature.nullParameters ? [nullValue()] : []),
  );
  const name = sequence(set(sequence(objectIdentifier(COMMON_NAME_OID), utf8String(options.commonName))));
  const extensions = [
    { oid: SUBJECT_ALT_NAME_OID, critical: false, value: subjectAltName(options.names) },
    ...(options.extensions ?? []),
  ].map(extension);
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3, needed for extensions
    unsignedInteger(randomSerial()),
    algorithm,
    name,
    sequence(time(options.notBefore), time(options.notAfter)),
    name,
    subjectPublicKeyInfo(options.key),
    explicit(3, sequence(...extensions)),
  );
  const certificate = sequence(tbs, algorithm, bitString(signX509(tbs, options.key)));
  return toPem('CERTIFICATE', certificate);
}

/** The subjectAltName extension's value: the names as dNSName GeneralNames. */
export function subjectAltName(names: readonly string[]): Der {
  return sequence(...names.map((dnsName) => implicitPrimitive(DNS_NAME, Buffer.from(dnsName, 'ascii'))));
}

function extension(raw: RawExtension): Der {
  return sequence(
    objectIdentifier(raw.oid),
    ...(raw.critical ? [booleanTrue()] : []),
    octetString(raw.value),
  );
}

/** 16 random bytes with the top bit clear: a positive serial of at most 20 octets, as RFC 5280 wants. */
function randomSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return new Uint8Array(serial);
}
