// PKCS#10 certificate signing requests for ACME finalize (RFC 8555 section 7.4): every name in the
// subjectAltName extension, the first also as the subject CN (many CAs and tools still look there).
import { type KeyObject, webcrypto } from 'node:crypto';
import { publicKeyOf, subjectPublicKeyInfo, x509SignatureAlgorithm } from './keys.js';
import { toPem } from './pem.js';
import { type X509Library, x509Library } from './x509-library.js';

const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** GeneralName CHOICE tag of dNSName. */
const DNS_NAME = 2;
/** X.520 ub-common-name: a CN longer than 64 characters is invalid, so a long first name goes to the SAN only. */
const MAX_COMMON_NAME = 64;

/** Converts a Node private key into a WebCrypto key that pkijs can sign with. */
export async function toSigningCryptoKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const { hash } = x509SignatureAlgorithm(key);
  const hashName = hash === 'sha384' ? 'SHA-384' : 'SHA-256';
  const algorithm =
    key.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: hash === 'sha384' ? 'P-384' : 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: hashName };
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

/** The WebCrypto hash name pkijs expects for this key. */
export function signingHashName(key: KeyObject): 'SHA-256' | 'SHA-384' {
  return x509SignatureAlgorithm(key).hash === 'sha384' ? 'SHA-384' : 'SHA-256';
}

/** A subjectAltName extension listing `names` as dNSNames. */
export function subjectAltNameExtension({ pkijs }: X509Library, names: readonly string[], critical = false) {
  const altNames = new pkijs.GeneralNames({
    names: names.map((value) => new pkijs.GeneralName({ type: DNS_NAME, value })),
  });
  return new pkijs.Extension({
    extnID: OID_SUBJECT_ALT_NAME,
    critical,
    extnValue: altNames.toSchema().toBER(false),
  });
}

/** Builds and signs a CSR for `names` (normalized ASCII, the first one primary); returns DER. */
export async function createCsr(key: KeyObject, names: readonly string[]): Promise<Uint8Array> {
  if (names.length === 0) throw new TypeError('a CSR needs at least one name');
  const library = await x509Library();
  const { pkijs, asn1js } = library;
  const request = new pkijs.CertificationRequest();
  request.version = 0;
  const primary = names[0] ?? '';
  if (primary.length <= MAX_COMMON_NAME) {
    request.subject.typesAndValues.push(
      new pkijs.AttributeTypeAndValue({
        type: OID_COMMON_NAME,
        value: new asn1js.Utf8String({ value: primary }),
      }),
    );
  }
  request.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(subjectPublicKeyInfo(publicKeyOf(key)));
  request.attributes = [
    new pkijs.Attribute({
      type: OID_EXTENSION_REQUEST,
      values: [new pkijs.Extensions({ extensions: [subjectAltNameExtension(library, names)] }).toSchema()],
    }),
  ];
  await request.sign(await toSigningCryptoKey(key), signingHashName(key));
  return new Uint8Array(request.toSchema(true).toBER(false));
}

/** PEM form of a DER CSR, for people and tools that read it. */
export function csrToPem(der: Uint8Array): string {
  return toPem('CERTIFICATE REQUEST', der);
}
