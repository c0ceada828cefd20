// The RFC 8737 TLS-ALPN-01 challenge certificate: self-signed, exactly one dNSName (the name being
// proven) and a critical id-pe-acmeIdentifier extension holding SHA-256 of the key authorization.
// pkijs lays out the ASN.1; node:crypto signs (via keys.ts), so no WebCrypto key import is needed.
import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import {
  AlgorithmIdentifier,
  AltName,
  AttributeTypeAndValue,
  Certificate,
  Extension,
  GeneralName,
  PublicKeyInfo,
} from 'pkijs';
import {
  generatePrivateKey,
  privateKeyToPem,
  signX509,
  subjectPublicKeyInfo,
  x509SignatureAlgorithm,
} from './keys.js';

/** id-pe-acmeIdentifier, RFC 8737 section 6.1. */
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';
const SUBJECT_ALT_NAME_OID = '2.5.29.17';
const COMMON_NAME_OID = '2.5.4.3';
/** A fixed, short subject: the name itself lives in the SAN, and CN is capped at 64 characters. */
const SUBJECT_COMMON_NAME = 'tlsward ACME TLS-ALPN-01 challenge';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ChallengeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ChallengeCertificateOptions {
  /** "Now" for the validity window; injectable so tests control time. */
  readonly now?: Date;
}

/**
 * Makes the certificate a server presents on an `acme-tls/1` handshake for `domain`.
 * `domain` must be the ASCII (IDNA) form; a fresh P-256 key is made for every certificate.
 */
export function createChallengeCertificate(
  domain: string,
  keyAuthorization: string,
  options: ChallengeCertificateOptions = {},
): ChallengeCertificate {
  if (!isAsciiDnsName(domain)) {
    throw new TypeError(`challenge certificate needs an ASCII DNS name, got ${JSON.stringify(domain)}`);
  }
  if (keyAuthorization.length === 0) throw new TypeError('challenge certificate needs a key authorization');

  const key = generatePrivateKey('ec256');
  const algorithm = x509SignatureAlgorithm(key);
  const now = options.now ?? new Date();
  const cert = new Certificate();

  cert.version = 2; // v3, needed for extensions
  cert.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithmId: algorithm.oid });
  cert.signature = signatureAlgorithm;
  for (const name of [cert.issuer, cert.subject]) {
    name.typesAndValues.push(
      new AttributeTypeAndValue({
        type: COMMON_NAME_OID,
        value: new asn1js.Utf8String({ value: SUBJECT_COMMON_NAME }),
      }),
    );
  }
  // A day of slack before "now" tolerates a validator whose clock is behind ours.
  cert.notBefore.value = new Date(now.getTime() - DAY_MS);
  cert.notAfter.value = new Date(now.getTime() + 7 * DAY_MS);
  cert.subjectPublicKeyInfo = PublicKeyInfo.fromBER(subjectPublicKeyInfo(key));

  const san = new AltName({ altNames: [new GeneralName({ type: 2, value: domain })] });
  const digest = createHash('sha256').update(keyAuthorization, 'utf8').digest();
  cert.extensions = [
    new Extension({ extnID: SUBJECT_ALT_NAME_OID, critical: false, extnValue: san.toSchema().toBER(false) }),
    // RFC 8737 section 3: "The acmeIdentifier extension MUST be critical" and its value is an
    // OCTET STRING (Authorization ::= OCTET STRING (SIZE (32))), hence the double wrapping.
    new Extension({
      extnID: ACME_IDENTIFIER_OID,
      critical: true,
      extnValue: new asn1js.OctetString({ valueHex: digest }).toBER(false),
    }),
  ];

  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  const signature = signX509(tbs, key);
  cert.signatureAlgorithm = signatureAlgorithm;
  cert.signatureValue = new asn1js.BitString({ valueHex: signature });
  // Emit exactly the TBS bytes that were signed, rather than letting pkijs encode them a second time.
  cert.tbsView = tbs;

  const der = Buffer.from(cert.toSchema(false).toBER(false));
  return { certPem: toPem('CERTIFICATE', der), keyPem: privateKeyToPem(key) };
}

/** 16 random bytes with the top bit clear (a positive INTEGER) and a non-zero first byte (minimal DER). */
function randomSerial(): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return new Uint8Array(serial);
}

/**
 * Letters, digits, hyphens and dots, no empty label and no trailing dot: the SAN's dNSName is an
 * IA5String in the "preferred name syntax" (RFC 5280 section 4.2.1.6) and must not carry anything else.
 */
function isAsciiDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && /^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(name);
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
