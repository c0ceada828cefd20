// Minimal HTTP(S) client for the test harness: talks to Pebble's ACME and management endpoints and to
// pebble-challtestsrv, trusting a given CA PEM (Node's global fetch takes no per-request CA).
import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  method?: string;
  /** PEM of the CA to trust for https: URLs (replaces the default trust store). */
  ca?: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One request; resolves with status, headers and the whole body as text. Never follows redirects. */
export function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const transport = isHttps ? https : http;
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: options.method ?? 'GET',
        headers,
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
        ...(isHttps && options.ca !== undefined ? { ca: options.ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timeout requesting ${url}`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** GET `url`; see {@link httpRequest}. */
export function httpGet(url: string, options: Omit<HttpRequestOptions, 'method' | 'body'> = {}) {
  return httpRequest(url, { ...options, method: 'GET' });
}

/** GET that fails unless the status is 2xx; returns the body. */
export async function fetchText(
  url: string,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<string> {
  const response = await httpGet(url, options);
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`GET ${url}: HTTP ${response.status}: ${response.body.slice(0, 500)}`);
  }
  return response.body;
}

/** POST a JSON body; fails unless the status is 2xx; returns the response body. */
export async function postJson(
  url: string,
  payload: unknown,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<string> {
  const response = await httpRequest(url, {
    ...options,
    method: 'POST',
    body: JSON.stringify(payload),
    headers: { 'content-type': 'application/json' },
  });
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`POST ${url}: HTTP ${response.status}: ${response.body.slice(0, 500)}`);
  }
  return response.body;
}
