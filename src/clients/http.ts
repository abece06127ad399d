/**
 * One HTTP client per API: base URL, TLS, bearer token, request ids, bounded retry
 * of transient failures, a size cap, and a zod parse of every answer at the boundary.
 */
import pRetry, { AbortError } from 'p-retry';
import type { Dispatcher } from 'undici';
import * as z from 'zod';
import { HttpError, ProtocolError, type QrError } from '../util/errors.js';
import type { AccessConfig } from '../config/schema.js';
import { sleep } from '../util/sleep.js';
import { type ConfigKey, clientToken, createDispatcher } from './dispatcher.js';
import { errorBodySchema } from './schemas.js';
import { type Exchanged, TooLarge, exchange } from './exchange.js';
import { CLOSED_CODES, errCode, isKnownTlsCode, probeTls, tlsFailure } from './tls-diagnosis.js';
import { type Query, displayUrl, urlBuilder, urlOf } from './urls.js';

export { displayUrl };

export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HttpOptions {
  baseUrl: string;
  /** Which system this is, for messages: "control plane", "node node-3", "LB". */
  system: string;
  /** The config section the settings come from, named in messages (`control_plane.ca_file`). */
  configKey: ConfigKey;
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
  query?: Query;
  schema: S;
  /** Non-2xx statuses that are answers, not errors (e.g. 503 from /readyz carries a verdict). */
  answerStatuses?: number[];
  /** Absolute epoch-ms deadline bounding all retries. */
  deadline?: number;
  signal?: AbortSignal;
  /** Whether 503s and connection errors are retried. Default: for GET only; a changing call says (retry-policy.ts). */
  retry?: boolean;
}

export interface Answer<T> {
  status: number;
  data: T;
}

/** Failures worth another attempt: the connection was refused, reset or timed out. */
const TRANSIENT_CODES = new Set([
  ...['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'],
  ...['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'],
]);

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
  private readonly configKey: ConfigKey;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retryBudgetMs: number;
  private readonly maxBody: number;
  private readonly prefix: string;
  private readonly access: AccessConfig;
  private counter = 0;
  private lastProbe = 0;
  /** The URL of a call, as `url()` builds it, without a parse per request. */
  private readonly target: (path: string, query?: Query) => string;

  constructor(opts: HttpOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.system = opts.system;
    this.access = opts.access ?? {};
    this.configKey = opts.configKey;
    this.token = clientToken(this.system, opts.configKey, this.baseUrl, opts.access, opts.env);
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.dispatcher = opts.dispatcher ?? createDispatcher(opts.access);
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.retryBudgetMs = opts.retryBudgetMs ?? 30_000;
    this.maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.prefix = opts.requestIdPrefix ?? 'qr';
    this.target = urlBuilder(this.baseUrl);
  }

  /** Closes the connection pool this client created; one passed in is its owner's to close. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  url(path: string, query?: Query): string {
    return urlOf(this.baseUrl, path, query);
  }

  async call<S extends z.ZodType>(method: string, path: string, opts: CallOptions<S>): Promise<Answer<z.infer<S>>> {
    const url = this.target(path, opts.query);
    const deadline = opts.deadline ?? Date.now() + this.retryBudgetMs;
    try {
      if (opts.retry === false || (opts.retry === undefined && method !== 'GET')) return await this.once(method, url, opts, deadline);
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

  private async once<S extends z.ZodType>(method: string, url: string, opts: CallOptions<S>, deadline: number): Promise<Answer<z.infer<S>>> {
    // What messages say about this request; built only when one is needed.
    let shown: string | undefined;
    let where: string | undefined;
    const show = () => (shown ??= displayUrl(url));
    const at = () => (where ??= `${method} ${show()}`);
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
    let res: Exchanged;
    try {
      res = await exchange(this.dispatcher, url, method, headers, body, timeout, this.maxBody, opts.signal);
    } catch (err) {
      if (err instanceof TooLarge) {
        const what = err.declared !== undefined ? `is ${err.declared} bytes, over` : 'exceeds';
        throw new AbortError(new ProtocolError(`${this.system}: response from ${at()} ${what} the ${this.maxBody}-byte cap`, { endpoint: show() }));
      }
      throw await this.transportError(at(), url, err, opts.signal);
    }
    const text = res.text;
    const status = res.status;
    const ok = (status >= 200 && status < 300) || opts.answerStatuses?.includes(status);
    if (!ok) {
      const parsed = errorBodySchema.safeParse(tryJson(text));
      const code = parsed.success ? parsed.data.error.code : undefined;
      const msg = this.scrub((parsed.success ? parsed.data.error.message : text.slice(0, 200)).replace(/\p{Cc}+/gu, ' '));
      const err = new HttpError(
        `${this.system}: ${at()} answered ${status}${code ? ` ${code.slice(0, 64)}` : ''}${msg ? `: ${msg}` : ''}`,
        status,
        code,
        { endpoint: show() },
        tryJson(text),
      );
      if (status >= 300 && status < 400) {
        const loc = res.header('location');
        const to = typeof loc === 'string' ? ` to ${displayUrl(loc).slice(0, 200)}` : '';
        throw new AbortError(
          new ProtocolError(`${this.system}: ${at()} answered a redirect (${status}${to}); redirects are not followed`, { endpoint: show() }),
        );
      }
      if (status === 503 || status === 429 || status === 502 || status === 504) {
        throw new Transient(err, retryAfterMs(res.header('retry-after')));
      }
      throw new AbortError(err);
    }
    if (status === 204 || text === '') {
      const r = opts.schema.safeParse(undefined);
      if (r.success) return { status, data: r.data };
    }
    const json = tryJson(text);
    if (json === undefined) {
      throw new AbortError(new ProtocolError(`${this.system}: invalid response from ${at()}: body is not JSON`, { endpoint: show() }));
    }
    const parsed = opts.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.map(String).join('.') : '(body)';
      throw new AbortError(
        new ProtocolError(`${this.system}: invalid response from ${at()}: field "${field}": ${this.scrub(issue.message)}`, {
          endpoint: show(),
          evidence: { field, issue: issue.message },
        }),
      );
    }
    return { status, data: parsed.data };
  }

  /** The token (should a server echo it) and lease tokens in URLs never reach a message. */
  private scrub(text: string): string {
    const t = this.token;
    return displayUrl(t && t.length >= 4 ? text.split(t).join('[redacted]') : text);
  }

  private async transportError(where: string, url: string, err: unknown, signal?: AbortSignal): Promise<Error> {
    if (signal?.aborted) return new AbortError(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    let code = errCode(err) ?? (err as Error).name;
    const shown = displayUrl(url);
    if (code && CLOSED_CODES.has(code) && Date.now() - this.lastProbe > 5_000) {
      // Closed before any answer: ask a bare TLS handshake why (mTLS refusals under TLS 1.3, TLS on an http:// URL).
      this.lastProbe = Date.now();
      const probed = await probeTls(url, this.access);
      if (isKnownTlsCode(probed)) code = probed;
    }
    const tls = tlsFailure(err, code, url, { system: this.system, configKey: this.configKey, access: this.access, shown, scrub: (t) => this.scrub(t) });
    if (tls) return new AbortError(tls);
    const timeout = code === 'TimeoutError' || code === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT';
    const what = timeout ? 'timed out' : `is unreachable (${code ?? this.scrub((err as Error).message)})`;
    const qr = new HttpError(`${this.system}: ${where} ${what}`, undefined, code, { endpoint: shown }, undefined, { cause: err });
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
