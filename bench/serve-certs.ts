// Test data for the serving benchmark: N certificates in a FileStorage cache, written through the real
// CertificateStore.save under one issuer id, so the daemon's code reads back exactly what it would find.
// Fast on purpose (the benchmark measures serving, not issuance): one P-256 key for all, one template
// certificate made by crypto/self-signed.ts, and per name only the name and serial bytes are swapped in
// the to-be-signed part (names have a fixed width, so no length changes) before an ECDSA signature.
// Writes skip the fsync of FileStorage.put (same files, same modes, same layout).
import { type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CertificateInfo, parseCertificate } from '../src/crypto/certificate.js';
import { generatePrivateKey } from '../src/crypto/keys.js';
import { toPem } from '../src/crypto/pem.js';
import { createSelfSignedCertificate } from '../src/crypto/self-signed.js';
import { CertificateStore } from '../src/manager/certificate-store.js';
import type { Lock, Storage } from '../src/storage/storage.js';

export const BENCH_ISSUER_ID = 'bench-issuer';
const DAY_MS = 86_400_000;

/** The i-th name; fixed width, so every certificate has the template's length. */
export function benchName(index: number): string {
  return `n${String(index).padStart(7, '0')}.bench.test`;
}

/** put() as FileStorage lays it out (root/key, files 0600, folders 0700), without temp file and fsync. */
class FastWriteStorage implements Storage {
  readonly #root: string;
  readonly #dirs = new Set<string>();
  constructor(root: string) {
    this.#root = root;
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }
  async put(key: string, value: Uint8Array): Promise<void> {
    const path = join(this.#root, ...key.split('/'));
    const dir = dirname(path);
    if (!this.#dirs.has(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.#dirs.add(dir);
    }
    writeFileSync(path, value, { mode: 0o600 });
  }
  async get(): Promise<Uint8Array | undefined> {
    throw new Error('write-only');
  }
  async delete(): Promise<void> {
    throw new Error('write-only');
  }
  async list(): Promise<string[]> {
    throw new Error('write-only');
  }
  async lock(): Promise<Lock> {
    throw new Error('write-only');
  }
}

interface Tlv {
  readonly start: number;
  readonly headerLength: number;
  readonly length: number;
}

function readTlv(der: Uint8Array, start: number): Tlv {
  const first = der[start + 1]!;
  if (first < 0x80) return { start, headerLength: 2, length: first };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[start + 2 + i]!;
  return { start, headerLength: 2 + count, length };
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function replaceAll(haystack: Buffer, needle: Buffer, replacement: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) {
    replacement.copy(haystack, at);
    count++;
  }
  return count;
}

export interface CertificateFactory {
  readonly key: KeyObject;
  /** PEM of a self-signed certificate for `name` (a benchName), signed with `key`, and its facts. */
  make(name: string): { pem: string; info: CertificateInfo };
}

/** One template, then per name: patch the TBS, sign it, wrap it. */
export async function certificateFactory(validityDays: number): Promise<CertificateFactory> {
  const key = generatePrivateKey('ec256');
  const templateName = benchName(0);
  const now = Date.now();
  const templatePem = await createSelfSignedCertificate({
    key,
    commonName: templateName,
    names: [templateName],
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now - DAY_MS + validityDays * DAY_MS),
  });
  const template = new X509Certificate(templatePem);
  const der = template.raw;
  const outer = readTlv(der, 0);
  const tbsTlv = readTlv(der, outer.headerLength);
  const tbsEnd = tbsTlv.start + tbsTlv.headerLength + tbsTlv.length;
  const tbsTemplate = Buffer.from(der.subarray(tbsTlv.start, tbsEnd));
  const algTlv = readTlv(der, tbsEnd);
  const algorithm = Buffer.from(der.subarray(tbsEnd, tbsEnd + algTlv.headerLength + algTlv.length));
  const serialHex = template.serialNumber.padStart(32, '0');
  const serialTemplate = Buffer.from(serialHex, 'hex');
  if (serialTemplate.length !== 16 || tbsTemplate.indexOf(serialTemplate) < 0)
    throw new Error(`cannot find the template's serial ${serialHex} in its TBS`);
  const nameTemplate = Buffer.from(templateName);
  const probe = Buffer.from(tbsTemplate);
  if (replaceAll(probe, nameTemplate, nameTemplate) < 2)
    throw new Error('the template names its name fewer than twice (CN and SAN)');
  const serialAt = tbsTemplate.indexOf(serialTemplate);
  const { notBefore, notAfter } = parseCertificate(template);

  return {
    key,
    make(name: string) {
      if (name.length !== templateName.length) throw new TypeError(`name width differs: ${name}`);
      const tbs = Buffer.from(tbsTemplate);
      replaceAll(tbs, nameTemplate, Buffer.from(name));
      const serial = randomBytes(16);
      serial[0] = (serial[0]! & 0x7f) | 0x01;
      serial.copy(tbs, serialAt);
      const signature = sign('sha256', tbs, key);
      const bitString = tlv(0x03, Buffer.concat([Buffer.from([0]), signature]));
      const pem = toPem('CERTIFICATE', tlv(0x30, Buffer.concat([tbs, algorithm, bitString])));
      // What parseCertificate would say, without its ~150 us X509Certificate parse (checked for the first).
      const info: CertificateInfo = {
        names: [name],
        notBefore,
        notAfter,
        serialNumber: serial.toString('hex').toUpperCase(),
        issuer: `CN=${name}`,
        issuerCommonName: name,
        subjectCommonName: name,
      };
      return { pem, info };
    },
  };
}

export interface GeneratedCache {
  readonly root: string;
  readonly count: number;
  readonly ms: number;
  /** One certificate and its key, for the plain tls.Server baseline. */
  readonly samplePem: string;
  readonly keyPem: string;
}

/** Writes `count` certificates (names benchName(0..count-1)) into a FileStorage layout at `root`. */
export async function generateCache(
  root: string,
  count: number,
  validityDays: number,
  onProgress?: (done: number) => void,
): Promise<GeneratedCache> {
  const started = performance.now();
  const factory = await certificateFactory(validityDays);
  const store = new CertificateStore(new FastWriteStorage(root));
  const signal = new AbortController().signal;
  const keyPem = factory.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  // The same key for every certificate: export it once (save() exports it per call, ~65 us each).
  const privateKey: KeyObject = Object.create(factory.key, { export: { value: () => keyPem } });
  let samplePem = '';
  for (let i = 0; i < count; i++) {
    const name = benchName(i);
    const { pem, info } = factory.make(name);
    if (i === 0) {
      samplePem = pem;
      const check = new X509Certificate(pem);
      if (!check.checkPrivateKey(factory.key) || !check.subjectAltName?.includes(name))
        throw new Error('the patched certificate does not hold together');
      if (JSON.stringify(parseCertificate(check)) !== JSON.stringify(info))
        throw new Error('the computed certificate facts differ from parseCertificate');
    }
    await store.save(
      BENCH_ISSUER_ID,
      { names: [name], privateKey, certificatePem: pem, chainPem: '', fullchainPem: pem, info },
      signal,
    );
    if (onProgress && (i + 1) % 10_000 === 0) onProgress(i + 1);
  }
  return { root, count, ms: performance.now() - started, samplePem, keyPem };
}
