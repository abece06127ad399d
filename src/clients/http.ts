/**
 * One HTTP client per API: base URL, TLS, bearer token, request ids, bounded retry
 * of transient failures, a size cap, and a zod parse of every answer at the boundary.
 */
import { readFileSync } from 'node:fs';
import pRetry, { AbortError } from 'p-retry';
import { Agent, type Dispatcher, request } from 'undici';
import { z } from 'zod';
import { HttpError, ProtocolError, QrError } from '../errors.js';
import type { AccessConfig } from '../config/schema.js';
import { tokenAllowed } from '../config/load.js';
import { errorBodySchema } from './schemas.js';

const RAW_TEXT = z.string();

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HttpOptions {
  baseUrl: string;
  /** Which system this is, for messages: "control plane", "node node-3", "LB". */
  system: string;
  access?: AccessConfig;
  dispatcher?: Dispatcher;
  requestTimeoutMs?: number;
  /** How long transient failures (503, connection errors) are retried when a call gives no deadline. */
  retryBudgetMs?: number;
  env?: NodeJS.ProcessEnv;
  requestIdPrefix?: string;
  maxBodyBytes?: number;
}

export interface CallOptions<S extends z.ZodType> {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  schema: S;
  /** Non-2xx statuses that are answers, not errors (e.g. 503 from /readyz carries a verdict). */
  answerStatuses?: number[];
  /** Absolute epoch-ms deadline bounding all retries. */
  deadline?: number;
  signal?: AbortSignal;
  /** Set false for calls that must not be repeated blindly. Default: retry 503 and connection errors. */
  retry?: boolean;
  /** Return the body text as is instead of JSON. */
  raw?: boolean;
}

export interface Answer<T> {
  status: number;
  data: T;
}

/** Builds an undici Agent with the TLS settings of one system (keep-alive, bounded connections). */
export function createDispatcher(access: AccessConfig = {}, connections = 64): Agent {
  const read = (f?: string) => (f ? readFileSync(f) : undefined);
  return new Agent({
    connections,
    keepAliveTimeout: 10_000,
    pipelining: 1,
    connect: {
      ca: read(access.ca_file),
      cert: read(access.cert_file),
      key: read(access.key_file),
      rejectUnauthorized: access.insecure_skip_verify !== true,
      minVersion: 'TLSv1.2',
    },
  });
}

export function readToken(access: AccessConfig | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!access) return undefined;
  if (access.token_env) return env[access.token_env]?.trim() || undefined;
  if (access.token_file) return readFileSync(access.token_file, 'utf8').trim() || undefined;
  return undefined;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

const TLS_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by a trusted CA (unknown CA; set ca_file)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate is not signed by a trusted CA (unknown CA; set ca_file)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chain ends in an untrusted CA (unknown CA; set ca_file)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted (unknown CA; set ca_file)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not match the host name (name mismatch)',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not yet valid',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate (mTLS: set cert_file and key_file)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server rejected the client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the client certificate (unknown CA)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the endpoint does not speak TLS (is it plain http?)',
  EPROTO: 'TLS handshake failed',
};

function errCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return (err as { code?: string }).code;
}

class Transient extends Error {
  constructor(
    readonly error: QrError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

export class HttpClient {
  readonly baseUrl: string;
  readonly system: string;
  private readonly dispatcher: Dispatcher;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retryBudgetMs: number;
  private readonly maxBody: number;
  private readonly prefix: string;
  private counter = 0;

  constructor(opts: HttpOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.system = opts.system;
    this.dispatcher = opts.dispatcher ?? createDispatcher(opts.access);
    this.token = readToken(opts.access, opts.env);
    if (this.token && !tokenAllowed(this.baseUrl)) {
      throw new QrError(`refusing to send a bearer token to ${this.baseUrl} over plain http (use https://)`, {
        endpoint: this.baseUrl,
      });
    }
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.retryBudgetMs = opts.retryBudgetMs ?? 30_000;
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.prefix = opts.requestIdPrefix ?? 'qr';
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  url(path: string, query?: CallOptions<z.ZodType>['query']): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  async call<S extends z.ZodType>(method: string, path: string, opts: CallOptions<S>): Promise<Answer<z.infer<S>>> {
    const url = this.url(path, opts.query);
    const deadline = opts.deadline ?? Date.now() + this.retryBudgetMs;
    try {
      if (opts.retry === false) return await this.once(method, url, opts, deadline);
      return await pRetry(() => this.once(method, url, opts, deadline), {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: 25,
        maxTimeout: 1_000,
        factor: 2,
        randomize: true,
        signal: opts.signal,
        maxRetryTime: Math.max(0, deadline - Date.now()),
        shouldRetry: ({ error }) => error instanceof Transient && Date.now() < deadline,
        onFailedAttempt: async ({ error }) => {
          const wait = error instanceof Transient ? error.retryAfterMs : undefined;
          if (wait && wait > 0) await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), opts.signal);
        },
      });
    } catch (err) {
      if (err instanceof Transient) throw err.error;
      if (err instanceof AbortError) throw err.originalError;
      throw err;
    }
  }

  /** A call whose answer is not JSON (Prometheus text). Same retry and error rules. */
  async callText(method: string, path: string, ctl: { deadline?: number; signal?: AbortSignal } = {}): Promise<string> {
    const r = await this.call(method, path, { schema: RAW_TEXT, ...ctl, raw: true });
    return r.data;
  }

  private async once<S extends z.ZodType>(
    method: string,
    url: string,
    opts: CallOptions<S>,
    deadline: number,
  ): Promise<Answer<z.infer<S>>> {
    const where = `${method} ${url}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-request-id': `${this.prefix}-${++this.counter}`,
      'user-agent': 'quantum-roll',
    };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const timeout = Math.max(50, Math.min(this.timeoutMs, deadline - Date.now()));
    const signals = [AbortSignal.timeout(timeout)];
    if (opts.signal) signals.push(opts.signal);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher: this.dispatcher,
        signal: AbortSignal.any(signals),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw this.transportError(where, url, err, opts.signal);
    }
    const text = await this.readBody(res, where, url);
    const status = res.statusCode;
    const ok = (status >= 200 && status < 300) || opts.answerStatuses?.includes(status);
    if (!ok) {
      const parsed = errorBodySchema.safeParse(tryJson(text));
      const code = parsed.success ? parsed.data.error.code : undefined;
      const msg = parsed.success ? parsed.data.error.message : text.slice(0, 200);
      const err = new HttpError(
        `${this.system}: ${where} answered ${status}${code ? ` ${code}` : ''}${msg ? `: ${msg}` : ''}`,
        status,
        code,
        { endpoint: url },
        tryJson(text),
      );
      if (status >= 300 && status < 400) {
        throw new AbortError(new ProtocolError(`${this.system}: ${where} answered a redirect (${status}); redirects are not followed`, { endpoint: url }));
      }
      if (status === 503 || status === 429 || status === 502 || status === 504) {
        throw new Transient(err, retryAfterMs(res.headers['retry-after']));
      }
      throw new AbortError(err);
    }
    if (status === 204 || text === '') {
      const r = opts.schema.safeParse(undefined);
      if (r.success) return { status, data: r.data };
    }
    if (opts.raw) return { status, data: text as z.infer<S> };
    const json = tryJson(text);
    if (json === undefined) {
      throw new AbortError(new ProtocolError(`${this.system}: invalid response from ${where}: body is not JSON`, { endpoint: url }));
    }
    const parsed = opts.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.map(String).join('.') : '(body)';
      throw new AbortError(
        new ProtocolError(`${this.system}: invalid response from ${where}: field "${field}": ${issue.message}`, {
          endpoint: url,
          evidence: { field, issue: issue.message },
        }),
      );
    }
    return { status, data: parsed.data };
  }

  private async readBody(res: Dispatcher.ResponseData, where: string, url: string): Promise<string> {
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > this.maxBody) {
      res.body.destroy();
      throw new AbortError(new ProtocolError(`${this.system}: response from ${where} is ${declared} bytes, over the ${this.maxBody}-byte cap`, { endpoint: url }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.maxBody) {
          res.body.destroy();
          throw new AbortError(new ProtocolError(`${this.system}: response from ${where} exceeds the ${this.maxBody}-byte cap`, { endpoint: url }));
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof AbortError) throw err;
      throw this.transportError(where, url, err);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private transportError(where: string, url: string, err: unknown, signal?: AbortSignal): Error {
    if (signal?.aborted) return new AbortError(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const code = errCode(err) ?? (err as Error).name;
    const tls = code ? TLS_REASONS[code] : undefined;
    if (tls || /certificate|SSL|TLS/i.test((err as Error).message ?? '')) {
      return new AbortError(
        new QrError(`${this.system}: TLS failure for ${url}: ${tls ?? (err as Error).message} (${code})`, { endpoint: url }, { cause: err }),
      );
    }
    const timeout = code === 'TimeoutError' || code === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT';
    const qr = new HttpError(
      `${this.system}: ${where} ${timeout ? 'timed out' : `is unreachable (${code ?? (err as Error).message})`}`,
      undefined,
      code,
      { endpoint: url },
      undefined,
      { cause: err },
    );
    if (timeout || (code && TRANSIENT_CODES.has(code))) return new Transient(qr);
    return new AbortError(qr);
  }
}

function tryJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const d = Date.parse(v);
  return Number.isNaN(d) ? undefined : Math.max(0, d - Date.now());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
