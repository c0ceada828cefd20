// One `[certificate."<id>"]` table (a static certificate, as in Stalwart) -> StaticCertificateConfig.
// `cert` and `private-key` hold PEM text, usually read with `%{file:/path}%`; they are parsed here so that a
// wrong file, or a key that does not match, is found by `tlsward check` rather than at the first handshake.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { StaticCertificateConfig } from './model.js';
import type { TableReader } from './reader.js';

export const CERTIFICATE_KEYS = ['cert', 'private-key', 'subjects', 'default'] as const;

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

export function readStaticCertificate(
  r: TableReader,
  id: string,
  now: Date,
): StaticCertificateConfig | undefined {
  const before = r.problems.errorCount;
  r.require('cert', 'the PEM certificate chain, e.g. cert = "%{file:/etc/ssl/certs/mail.pem}%"');
  r.require('private-key', 'the PEM private key, e.g. private-key = "%{file:/etc/ssl/private/mail.key}%"');
  const certificate = readCertificate(r, now);
  const privateKey = readPrivateKey(r);
  if (
    certificate !== undefined &&
    privateKey !== undefined &&
    !certificate.x509.checkPrivateKey(privateKey.key)
  ) {
    r.error('private-key', `does not match the certificate of certificate.${id}.cert`);
  }
  const subjects = readSubjects(r, certificate?.x509);
  const isDefault = r.boolean('default') ?? false;
  r.finish(CERTIFICATE_KEYS);
  if (r.problems.errorCount > before || !certificate || !privateKey || !subjects) return undefined;
  return { id, cert: certificate.pem, privateKey: privateKey.pem, subjects, default: isDefault };
}

function readCertificate(r: TableReader, now: Date): { pem: string; x509: X509Certificate } | undefined {
  const pem = r.string('cert');
  if (pem === undefined) return undefined;
  if (!pem.includes(PEM_CERTIFICATE)) {
    const looksLikePath = !r.problems.isSensitive(r.at('cert')) && /^[./~][^\n]*$/.test(pem.trim());
    const hint = looksLikePath ? `; to read the file, write "%{file:${pem.trim()}}%"` : '';
    r.error('cert', `is not a PEM certificate (no ${PEM_CERTIFICATE} line)${hint}`);
    return undefined;
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    r.error('cert', 'the PEM certificate cannot be parsed');
    return undefined;
  }
  const expires = new Date(x509.validTo);
  if (expires.getTime() < now.getTime()) {
    r.warning('cert', `the certificate expired on ${expires.toISOString()}`);
  }
  return { pem, x509 };
}

function readPrivateKey(r: TableReader): { pem: string; key: KeyObject } | undefined {
  const pem = r.string('private-key');
  if (pem === undefined) return undefined;
  if (!PEM_PRIVATE_KEY.test(pem)) {
    r.error('private-key', 'is not a PEM private key (read it from a file with "%{file:/path/to/key.pem}%")');
    return undefined;
  }
  try {
    return { pem, key: createPrivateKey(pem) };
  } catch {
    r.error('private-key', 'the PEM private key cannot be parsed (is it encrypted?)');
    return undefined;
  }
}

function readSubjects(r: TableReader, x509: X509Certificate | undefined): string[] | undefined {
  if (r.has('subjects')) {
    const elements = r.stringList('subjects', { single: true, what: 'a domain name' });
    if (elements === undefined) return undefined;
    if (elements.length === 0) {
      r.error('subjects', 'must list at least one name (leave it out to use the names in the certificate)');
      return undefined;
    }
    const names = elements.map((element) => r.domain('subjects', element.value, element.path));
    return names.every((name) => name !== undefined) ? [...new Set(names)] : undefined;
  }
  if (x509 === undefined) return undefined;
  const names = (x509.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length === 0) {
    r.error('cert', 'the certificate names no DNS names; list the names it is for in subjects');
    return undefined;
  }
  return [...new Set(names)];
}
