// Minimal HTTP plumbing shared by the CP, LB, node and control servers:
// body parsing, JSON replies, contract error bodies, bearer auth and call recording.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Faults, ParkedCall, ParkRule } from './types.js';

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
  /** True once the client went away (its socket closed). */
  gone: () => boolean;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Neither written nor recorded: a parked call whose client went away while it waited. */
  dropped?: boolean;
  /** Handled and recorded, but the connection is reset instead of answered (the `cpDropAnswer` fault). */
  reset?: boolean;
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
  /** Awaited before the handler (the `park` fault; see `parkVia`). */
  park?: ((ctx: Ctx) => Promise<void>) | undefined;
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
    // The socket, not the request: a request is destroyed once its body is read. A client that
    // died (SIGKILL) closes the connection: the socket ends (FIN) and is destroyed.
    gone: () => req.socket.destroyed || req.socket.readableEnded,
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
  if (!reply && opts.park) {
    await opts.park(ctx);
    if (ctx.gone()) return; // the client went away while its call was parked: nothing happens
  }
  if (!reply) {
    try {
      reply = await opts.handler(ctx);
    } catch (e) {
      reply = error(500, 'internal', e instanceof Error ? e.message : String(e));
    }
  }
  if (reply.dropped) return;
  if (reply.reset) resetSocket(req.socket);
  else if (!res.destroyed) writeReply(res, reply);
  opts.record?.(ctx, reply, now());
}

/** Ends a connection with a TCP RST (a plain close where the socket cannot: TLS). */
function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
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

// ---- the `park` fault --------------------------------------------------------------

interface Held {
  call: ParkedCall;
  rule: ParkRule;
  release: () => void;
  /** True once the caller went away: the call is let go at once (and then dropped). */
  gone: () => boolean;
}

function parkMatches(rule: ParkRule, system: ParkRule['system'], node: string | undefined, method: string, url: string): boolean {
  if (rule.system !== system) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.node !== undefined && rule.node !== node) return false;
  if (rule.path !== undefined && !url.startsWith(rule.path)) return false;
  if (rule.pattern !== undefined && !new RegExp(rule.pattern).test(url)) return false;
  return true;
}

/**
 * Holds the calls that match the `park` knob until the knob is set again: a held call
 * remembers the rule object it matched, and is let go as soon as the knob holds
 * another object (a new rule, an equal one, or null). One per simulator.
 */
export class Parking {
  private held: Held[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly rule: () => ParkRule | null) {}

  /**
   * Resolves at once unless the call matches the knob; else once the knob changes or
   * the caller goes away (`gone`), whichever comes first.
   */
  gate(system: ParkRule['system'], node: string | undefined, method: string, url: string, t: number, gone: () => boolean): Promise<void> {
    const rule = this.rule();
    if (!rule || !parkMatches(rule, system, node, method, url)) return Promise.resolve();
    return new Promise<void>((release) => {
      const call: ParkedCall = { seq: ++this.seq, system, ...(node !== undefined ? { node } : {}), method, path: url, t };
      this.held.push({ call, rule, release, gone });
      // The knob is set by code that knows nothing of parking (Supervisor.setFaults): look often while holding.
      this.timer ??= setInterval(() => this.sweep(), 5);
      this.timer.unref();
    });
  }

  /** Lets go of every call whose rule is no longer the knob's, or whose caller went away. */
  sweep(): void {
    const current = this.rule();
    const keep: Held[] = [];
    for (const h of this.held) {
      if (h.rule === current && !h.gone()) keep.push(h);
      else h.release();
    }
    this.held = keep;
    if (keep.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** The calls held now; a call whose caller went away is no longer listed (it was dropped). */
  parked(): ParkedCall[] {
    this.sweep();
    return this.held.map((h) => h.call);
  }
}

const parkings = new WeakMap<Faults, Parking>();

/** The Parking of the simulator whose live fault state is `faults` (the CP and control servers share it). */
export function parkingOf(faults: Faults): Parking {
  let p = parkings.get(faults);
  if (!p) {
    p = new Parking(() => faults.park);
    parkings.set(faults, p);
  }
  return p;
}

/**
 * The `park` gate of a node process: asks the control server, which holds its answer
 * while the call is parked (a long poll). When the node's caller goes away, the node
 * hangs up on the control server, which then drops the call from its list. LB health
 * probes are never parked; when the control server cannot be asked (shutting down),
 * the call goes on.
 */
export function parkVia(controlUrl: string, node: string): (ctx: Ctx) => Promise<void> {
  return async (ctx) => {
    if (ctx.headers['x-sim-lb-check']) return;
    const hangUp = new AbortController();
    const watch = setInterval(() => {
      if (ctx.gone()) hangUp.abort();
    }, 5);
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(`${controlUrl}/_sim/park`, { method: 'POST', headers: { 'content-type': 'application/json' }, signal: hangUp.signal }, (res) => {
          res.resume();
          res.on('end', resolve);
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(JSON.stringify({ system: 'node', node, method: ctx.method, path: ctx.url, t: ctx.t }));
      });
    } catch {
      // hung up (the caller went away) or the control server is gone: serve() decides
    } finally {
      clearInterval(watch);
    }
  };
}
