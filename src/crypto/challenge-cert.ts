// The RFC 8737 TLS-ALPN-01 challenge certificate: self-signed, exactly one dNSName (the name being
// proven) and a critical id-pe-acmeIdentifier extension holding SHA-256 of the key authorization.
import { createHash } from 'node:crypto';
import { generatePrivateKey, privateKeyToPem } from './keys.js';
import { createSelfSignedCertificate } from './self-signed.js';

/** id-pe-acmeIdentifier, RFC 8737 section 6.1. */
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';
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
export async function createChallengeCertificate(
  domain: string,
  keyAuthorization: string,
  options: ChallengeCertificateOptions = {},
): Promise<ChallengeCertificate> {
  if (!isAsciiDnsName(domain)) {
    throw new TypeError(`challenge certificate needs an ASCII DNS name, got ${JSON.stringify(domain)}`);
  }
  if (keyAuthorization.length === 0) throw new TypeError('challenge certificate needs a key authorization');

  const key = generatePrivateKey('ec256');
  const now = options.now ?? new Date();
  const digest = createHash('sha256').update(keyAuthorization, 'utf8').digest();
  const certPem = await createSelfSignedCertificate({
    key,
    commonName: SUBJECT_COMMON_NAME,
    names: [domain],
    // A day of slack before "now" tolerates a validator whose clock is behind ours.
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 7 * DAY_MS),
    extensions: [
      // RFC 8737 section 3: "The acmeIdentifier extension MUST be critical" and its value is an
      // OCTET STRING (Authorization ::= OCTET STRING (SIZE (32))), hence the double wrapping.
      {
        oid: ACME_IDENTIFIER_OID,
        critical: true,
        value: Buffer.concat([Buffer.from([0x04, digest.length]), digest]),
      },
    ],
  });
  return { certPem, keyPem: privateKeyToPem(key) };
}

/**
 * Letters, digits, hyphens and dots, no empty label and no trailing dot: the SAN's dNSName is an
 * IA5String in the "preferred name syntax" (RFC 5280 section 4.2.1.6) and must not carry anything else.
 */
function isAsciiDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && /^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(name);
}
