// Minimal HTTP plumbing shared by the CP, LB, node and control servers:
// body parsing, JSON replies, contract error bodies, bearer auth and call recording.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';

export interface Ctx {
  method: string;
  /** Path without query. */
  path: string;
  /** Path with query, as received. */
  url: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  bodyText: string;
  /** Parsed JSON body; undefined when empty or not JSON (see `bodyInvalid`). */
  body: unknown;
  bodyInvalid: boolean;
  /** Receipt time (performance.timeOrigin + performance.now()). */
  t: number;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, json: body, headers } : { status, json: body };
}

export function error(status: number, code: string, message: string, extra?: Record<string, unknown>): Reply {
  return json(status, { error: { code, message }, ...(extra ?? {}) });
}

export function isoNow(ms: number = Date.now()): string {
  return new Date(ms).toISOString();
}

const MAX_BODY = 1 << 20;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface ServerOptions {
  handler: Handler;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: (() => string | undefined) | undefined;
  /** Called once per answered request (for calls.ndjson). */
  record?: ((ctx: Ctx, reply: Reply, tEnd: number) => void) | undefined;
  /** When set, the server speaks HTTPS with these options (`sim start --tls`; see tls.ts). */
  tls?: https.ServerOptions | undefined;
}

export function buildCtx(req: http.IncomingMessage, bodyText: string, t: number, pathPrefix = ''): Ctx {
  const url = req.url ?? '/';
  const u = new URL(url, 'http://sim.local');
  let body: unknown;
  let bodyInvalid = false;
  if (bodyText.trim() !== '') {
    try {
      body = JSON.parse(bodyText);
    } catch {
      bodyInvalid = true;
    }
  }
  const path = pathPrefix && u.pathname.startsWith(pathPrefix) ? u.pathname.slice(pathPrefix.length) || '/' : u.pathname;
  return {
    method: req.method ?? 'GET',
    path,
    url: pathPrefix && url.startsWith(pathPrefix) ? url.slice(pathPrefix.length) || '/' : url,
    query: u.searchParams,
    headers: req.headers,
    bodyText,
    body,
    bodyInvalid,
    t,
  };
}

export function writeReply(res: http.ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload = '';
  if (reply.text !== undefined) {
    payload = reply.text;
    headers['content-type'] = reply.contentType ?? 'application/json';
  } else if (reply.json !== undefined) {
    payload = JSON.stringify(reply.json);
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

export function checkAuth(headers: http.IncomingHttpHeaders, token: string | undefined): Reply | null {
  if (!token) return null;
  if (headers.authorization === `Bearer ${token}`) return null;
  return error(401, 'unauthorized', 'missing or wrong bearer token');
}

/** Runs a Handler for one request: auth, body parsing, reply, recording. */
export async function serve(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  opts: ServerOptions,
  pathPrefix = '',
): Promise<void> {
  const t = now();
  let bodyText: string;
  try {
    bodyText = await readBody(req);
  } catch {
    writeReply(res, error(413, 'body_too_large', 'request body too large'));
    return;
  }
  const ctx = buildCtx(req, bodyText, t, pathPrefix);
  let reply: Reply | null = checkAuth(req.headers, opts.token?.());
  if (!reply) {
    try {
      reply = await opts.handler(ctx);
    } catch (e) {
      reply = error(500, 'internal', e instanceof Error ? e.message : String(e));
    }
  }
  if (!res.destroyed) writeReply(res, reply);
  opts.record?.(ctx, reply, now());
}

export function createServer(opts: ServerOptions): http.Server {
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void serve(req, res, opts);
  };
  const server: http.Server = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);
  server.keepAliveTimeout = 5000;
  return server;
}

export function listen(server: NetServer, port = 0, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Splits `/a/b/c` into ['a','b','c'] (decoded). */
export function segments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

export const ID_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
