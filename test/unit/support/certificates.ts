// Certificates for unit tests: self-signed, with the names and validity a test asks for.
import type { KeyObject } from 'node:crypto';
import { parseCertificate, splitPemChain } from '../../../src/crypto/certificate.js';
import { generatePrivateKey } from '../../../src/crypto/keys.js';
import { createSelfSignedCertificate } from '../../../src/crypto/self-signed.js';
import type { IssuedCertificate } from '../../../src/issuers/issuer.js';

export async function fakeIssuedCertificate(
  names: readonly string[],
  notBefore: Date,
  notAfter: Date,
  privateKey: KeyObject = generatePrivateKey(),
): Promise<IssuedCertificate> {
  const pem = await createSelfSignedCertificate({
    key: privateKey,
    commonName: 'test',
    names,
    notBefore,
    notAfter,
  });
  const [leaf] = splitPemChain(pem);
  return {
    names,
    privateKey,
    certificatePem: leaf!,
    chainPem: '',
    fullchainPem: leaf!,
    info: parseCertificate(leaf!),
  };
}
