// A fetch for ACME directories that are served with a private CA's certificate: undici's own fetch with
// a dispatcher trusting the given PEM bundle in addition to the system roots. The global fetch already
// honours NODE_EXTRA_CA_CERTS; this is for a per-directory CA file (`--ca-file`, `ca-file`).
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import type { FetchLike, HttpResponseLike } from './http.js';

export function fetchTrusting(caPem: string): FetchLike {
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, caPem] } });
  return async (url, init) => (await undiciFetch(url, { ...init, dispatcher })) as HttpResponseLike;
}
