// JSON Web Signatures as RFC 8555 section 6.2 uses them: flattened JSON serialization, account keys
// ES256/ES384/RS256 identified by `jwk` (new accounts) or `kid` (everything after), RFC 7638 thumbprints,
// and the HS256 external account binding of section 7.3.4. Node's crypto does the maths.
import { createHash, createHmac, type KeyObject, sign } from 'node:crypto';
import { publicKeyOf } from '../crypto/keys.js';

export type Jwk = Record<string, string>;

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

interface JwsAlgorithm {
  readonly alg: 'ES256' | 'ES384' | 'RS256';
  readonly hash: 'sha256' | 'sha384';
  readonly ecdsa: boolean;
}

function algorithmFor(key: KeyObject): JwsAlgorithm {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { alg: 'ES256', hash: 'sha256', ecdsa: true };
    if (curve === 'secp384r1') return { alg: 'ES384', hash: 'sha384', ecdsa: true };
    throw new TypeError(`unsupported account key curve: ${curve}`);
  }
  if (key.asymmetricKeyType === 'rsa') return { alg: 'RS256', hash: 'sha256', ecdsa: false };
  throw new TypeError(`unsupported account key type: ${key.asymmetricKeyType}`);
}

/** The members RFC 7638 section 3.2 requires for each key type, in the lexicographic order it prescribes. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
};

/** The public JWK of an account key, holding only the required members. */
export function publicJwk(key: KeyObject): Jwk {
  const full = publicKeyOf(key).export({ format: 'jwk' }) as Jwk;
  const members = THUMBPRINT_MEMBERS[full.kty ?? ''];
  if (!members) throw new TypeError(`unsupported JWK key type: ${full.kty}`);
  return Object.fromEntries(members.map((name) => [name, full[name] ?? '']));
}

/** RFC 7638 thumbprint: SHA-256 over the required members, serialized without white space, base64url. */
export function jwkThumbprint(jwk: Jwk): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new TypeError(`unsupported JWK key type: ${jwk.kty}`);
  const canonical = `{${members.map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** token || '.' || thumbprint: the key authorization of RFC 8555 section 8.1. */
export function keyAuthorization(token: string, accountJwk: Jwk): string {
  return `${token}.${jwkThumbprint(accountJwk)}`;
}

function encodePayload(payload: unknown): string {
  // POST-as-GET (section 6.3) signs an empty payload, not the JSON string "".
  return payload === undefined ? '' : Buffer.from(JSON.stringify(payload)).toString('base64url');
}

export type KeyIdentification = { jwk: Jwk } | { kid: string };

/** Signs an ACME request body with the account key. `nonce` may be omitted only for inner JWSs. */
export function signJws(
  key: KeyObject,
  header: KeyIdentification & { url: string; nonce?: string },
  payload: unknown,
): FlattenedJws {
  const algorithm = algorithmFor(key);
  const protectedHeader = Buffer.from(JSON.stringify({ alg: algorithm.alg, ...header })).toString(
    'base64url',
  );
  const encodedPayload = encodePayload(payload);
  const signingInput = Buffer.from(`${protectedHeader}.${encodedPayload}`);
  const signature = sign(
    algorithm.hash,
    signingInput,
    algorithm.ecdsa ? { key, dsaEncoding: 'ieee-p1363' } : key,
  ).toString('base64url');
  return { protected: protectedHeader, payload: encodedPayload, signature };
}

/** External account binding credentials as a CA hands them out (RFC 8555 section 7.3.4). */
export interface ExternalAccountBinding {
  readonly kid: string;
  /** The MAC key, base64url as CAs print it (padding and standard base64 are tolerated). */
  readonly hmacKey: string;
}

/** The inner JWS binding the new account key to the CA's external account. */
export function signExternalAccountBinding(
  binding: ExternalAccountBinding,
  accountJwk: Jwk,
  newAccountUrl: string,
): FlattenedJws {
  const macKey = Buffer.from(
    binding.hmacKey.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    'base64url',
  );
  if (macKey.length === 0) throw new TypeError('the external account binding HMAC key is empty');
  const protectedHeader = Buffer.from(
    JSON.stringify({ alg: 'HS256', kid: binding.kid, url: newAccountUrl }),
  ).toString('base64url');
  const payload = encodePayload(accountJwk);
  const signature = createHmac('sha256', macKey).update(`${protectedHeader}.${payload}`).digest('base64url');
  return { protected: protectedHeader, payload, signature };
}
