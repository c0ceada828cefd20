// Self-signed X.509 certificates: pkijs lays out the ASN.1, node:crypto signs (via keys.ts), so no
// WebCrypto key import is needed. Used for the RFC 8737 challenge certificate and for test fixtures.
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { subjectAltNameExtension } from './csr.js';
import { signX509, subjectPublicKeyInfo, x509SignatureAlgorithm } from './keys.js';
import { toPem } from './pem.js';
import { x509Library } from './x509-library.js';

const COMMON_NAME_OID = '2.5.4.3';

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
  const library = await x509Library();
  const { asn1js } = library;
  const { AlgorithmIdentifier, AttributeTypeAndValue, Certificate, Extension, PublicKeyInfo } = library.pkijs;
  const algorithm = new AlgorithmIdentifier({
    algorithmId: x509SignatureAlgorithm(options.key).oid,
    ...(x509SignatureAlgorithm(options.key).nullParameters ? { algorithmParams: new asn1js.Null() } : {}),
  });
  const cert = new Certificate();
  cert.version = 2; // v3, needed for extensions
  cert.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  cert.signature = algorithm;
  for (const name of [cert.issuer, cert.subject]) {
    name.typesAndValues.push(
      new AttributeTypeAndValue({
        type: COMMON_NAME_OID,
        value: new asn1js.Utf8String({ value: options.commonName }),
      }),
    );
  }
  cert.notBefore.value = options.notBefore;
  cert.notAfter.value = options.notAfter;
  cert.subjectPublicKeyInfo = PublicKeyInfo.fromBER(subjectPublicKeyInfo(options.key));
  cert.extensions = [
    subjectAltNameExtension(library, options.names),
    ...(options.extensions ?? []).map(
      (raw) =>
        new Extension({
          extnID: raw.oid,
          critical: raw.critical,
          extnValue: Uint8Array.from(raw.value).buffer,
        }),
    ),
  ];

  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.signatureAlgorithm = algorithm;
  cert.signatureValue = new asn1js.BitString({ valueHex: signX509(tbs, options.key) });
  // Emit exactly the TBS bytes that were signed, rather than letting pkijs encode them a second time.
  cert.tbsView = tbs;
  return toPem('CERTIFICATE', Buffer.from(cert.toSchema(false).toBER(false)));
}

/** 16 random bytes with the top bit clear (a positive INTEGER) and a non-zero first byte (minimal DER). */
function randomSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return new Uint8Array(serial);
}
