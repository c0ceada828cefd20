// Reading certificates: splitting PEM chains (Node's X509Certificate parses only the first block) and
// the facts tlsward needs about a certificate — names, validity, serial, issuer — in typed form.
import { type KeyObject, X509Certificate } from 'node:crypto';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each certificate of a PEM chain, in order, normalized to end with a newline. */
export function splitPemChain(pem: string): string[] {
  return [...pem.matchAll(PEM_CERTIFICATE)].map((match) => `${match[0].trim()}\n`);
}

export interface CertificateInfo {
  /** DNS names of the subjectAltName extension, lowercase. */
  readonly names: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex serial number, uppercase, as Node prints it. */
  readonly serialNumber: string;
  /** The issuer's distinguished name, one `attr=value` per line as Node prints it. */
  readonly issuer: string;
  readonly issuerCommonName: string | undefined;
  readonly subjectCommonName: string | undefined;
}

export function parseCertificate(pem: string | X509Certificate): CertificateInfo {
  const cert = typeof pem === 'string' ? new X509Certificate(pem) : pem;
  return {
    names: subjectAltDnsNames(cert),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serialNumber: cert.serialNumber,
    issuer: cert.issuer,
    issuerCommonName: commonName(cert.issuer),
    subjectCommonName: commonName(cert.subject),
  };
}

function subjectAltDnsNames(cert: X509Certificate): string[] {
  // Node joins the entries with ", "; DNS names cannot contain commas or spaces, so splitting is safe.
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

function commonName(distinguishedName: string): string | undefined {
  for (const line of distinguishedName.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

/**
 * The issuer names a chain can be chosen by, as certbot's and lego's --preferred-chain match them:
 * the issuer common name of every certificate in the chain (the last one names the root).
 */
export function chainIssuerNames(chainPem: string): string[] {
  return splitPemChain(chainPem)
    .map((pem) => commonName(new X509Certificate(pem).issuer))
    .filter((name): name is string => name !== undefined);
}

/** True when the leaf certificate of `chainPem` belongs to `key`. */
export function certificateMatchesKey(chainPem: string, key: KeyObject): boolean {
  const [leaf] = splitPemChain(chainPem);
  return leaf !== undefined && new X509Certificate(leaf).checkPrivateKey(key);
}

/** DER bytes of the first certificate in a PEM text. */
export function certificateDer(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}
