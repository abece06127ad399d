// A tiny keep-alive HTTP client on node:http (undici costs ~120 ms to import, which
// would slow every node process start).
import http from 'node:http';
import https from 'node:https';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface SimpleResponse {
  status: number;
  text: string;
}

export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; tlsAgent?: https.Agent } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const tls = url.startsWith('https:');
    const send = tls ? https.request : http.request;
    const req = send(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: tls ? opts.tlsAgent : agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 1000, () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 1000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
