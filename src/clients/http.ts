/**
 * One HTTP client per API: base URL, TLS, bearer token, request ids, bounded retry
 * of transient failures, a size cap, and a zod parse of every answer at the boundary.
 */
import pRetry, { AbortError } from 'p-retry';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { HttpError, ProtocolError, type QrError } from '../util/errors.js';
import type { AccessConfig } from '../config/schema.js';
import { sleep } from '../util/sleep.js';
import { type ConfigKey, clientToken, createDispatcher } from './dispatcher.js';
import { errorBodySchema } from './schemas.js';
import { CLOSED_CODES, errCode, isKnownTlsCode, probeTls, tlsFailure } from './tls-diagnosis.js';

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
  query?: Record<string, string | number | undefined>;
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

/** A URL for messages and logs: the `token` query parameter (lease token) is never shown. */
export function displayUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]');
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
  private base: string | undefined;

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
  }

  /** Closes the connection pool this client created; one passed in is its owner's to close. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  url(path: string, query?: CallOptions<z.ZodType>['query']): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * The URL of a call, as `url()` builds it, without parsing one per request: a path
   * of plain URL characters (ids are encoded by the callers) is appended as is to the
   * base URL parsed once; anything else goes through `url()`.
   */
  private target(path: string, query?: CallOptions<z.ZodType>['query']): string {
    if (!PLAIN_PATH.test(path)) return this.url(path, query);
    const base = (this.base ??= parseBase(this.baseUrl));
    if (!base) return this.url(path, query);
    let search = '';
    if (query) {
      const q = new URLSearchParams();
      for (const k in query) {
        const v = query[k];
        if (v !== undefined) q.set(k, String(v));
      }
      search = q.size ? `?${q.toString()}` : '';
    }
    return base + path + search;
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

/** A path that `new URL()` would leave as it is: URL characters, no dot segments, no query or fragment. */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)+$/;

/** The base URL as `new URL()` prints it, without a trailing slash; undefined when it has a query or fragment. */
function parseBase(baseUrl: string): string | undefined {
  const u = new URL(baseUrl);
  if (u.search || u.hash || u.username || u.password) return undefined;
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
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

/** What one request came to: status, a header by name, the body as text. */
interface Exchanged {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

/** A body over the size cap: declared so up front, or cut off while it arrived. */
class TooLarge extends Error {
  constructor(readonly declared?: number) {
    super('response body over the size cap');
  }
}

/**
 * One request through the pool's own dispatch, with a handler that keeps only what a
 * call needs: the status, the raw headers (read by name when a message or a retry
 * needs one), and the body's chunks up to `maxBody` (a declared Content-Length over it
 * ends the request before its body is read). undici's request() wraps every answer in
 * a Readable stream, an AsyncResource and a parsed header object: with thousands of
 * small answers (per-PRG transfers) that is most of what a request of ours costs
 * beyond the bare client's.
 *
 * Timeouts: headersTimeout and bodyTimeout (undici's own), and `timeoutMs` for all of
 * it, the wait for a connection included: requests whose timeouts end in the same
 * 25 ms share one timer, which ends those still running (up to 25 ms late). The
 * caller's signal ends it at once.
 */
function exchange(
  dispatcher: Dispatcher,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
  maxBody: number,
  caller: AbortSignal | undefined,
): Promise<Exchanged> {
  // URLs here are as `new URL().toString()` prints them: origin up to the first slash after the scheme's.
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const origin = slash < 0 ? url : url.slice(0, slash);
  const path = slash < 0 ? '/' : url.slice(slash);
  return new Promise<Exchanged>((resolve, reject) => {
    let abort: ((reason?: Error) => void) | undefined;
    let reason: Error | undefined;
    let settled = false;
    let status = 0;
    let raw: Array<Buffer | string> = [];
    const chunks: Buffer[] = [];
    let size = 0;
    const onCallerAbort = () => end(caller!.reason instanceof Error ? caller!.reason : new Error('aborted'));
    const settle = () => {
      settled = true;
      timer.fire = undefined;
      caller?.removeEventListener('abort', onCallerAbort);
    };
    /** Ends the request with `err`: rejected now, the connection's part aborted as soon as undici lets it. */
    const end = (err: Error) => {
      if (settled) return;
      settle();
      reason = err;
      abort?.(err);
      reject(err);
    };
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a: (err?: Error) => void) {
        if (reason) return a(reason);
        abort = a;
      },
      onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null) {
        if (statusCode < 200) return true;
        status = statusCode;
        raw = rawHeaders ?? [];
        const declared = Number(headerOf(raw, 'content-length') ?? 0);
        if (declared > maxBody) {
          end(new TooLarge(declared));
          return false;
        }
        return true;
      },
      onData(chunk: Buffer) {
        size += chunk.length;
        if (size > maxBody) {
          end(new TooLarge());
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        if (settled) return;
        settle();
        const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        const headersRead = raw;
        resolve({ status, text, header: (name) => headerOf(headersRead, name) });
      },
      onError(err: Error) {
        if (settled) return;
        settle();
        reject(err);
      },
    };
    const timer = onTimeout(timeoutMs, () => end(new DOMException('The operation was aborted due to timeout', 'TimeoutError')));
    if (caller) {
      if (caller.aborted) return onCallerAbort();
      caller.addEventListener('abort', onCallerAbort, { once: true });
    }
    try {
      dispatcher.dispatch({ origin, path, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler);
    } catch (err) {
      end(err as Error);
    }
  });
}

/** A header of an answer by its lower-case name (the first one), from undici's raw name/value list. */
function headerOf(raw: ReadonlyArray<Buffer | string>, name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === name.length && k.toString('latin1').toLowerCase() === name) return raw[i + 1]!.toString('latin1');
  }
  return undefined;
}

/**
 * Timers shared by the requests whose timeouts end in the same 25 ms: a timer per
 * request shows with thousands of requests in flight. A bucket holds one entry per
 * request; a request that ends clears its entry's callback (so nothing of it is kept
 * until the timer runs), the timer runs those still set.
 */
const BUCKET_MS = 25;
type Pending = { fire: (() => void) | undefined };
const buckets = new Map<number, Pending[]>();

function onTimeout(timeoutMs: number, fire: () => void): Pending {
  const at = Math.ceil((Date.now() + timeoutMs) / BUCKET_MS) * BUCKET_MS;
  let bucket = buckets.get(at);
  if (!bucket) {
    const b: Pending[] = (bucket = []);
    buckets.set(at, b);
    setTimeout(() => {
      buckets.delete(at);
      for (const r of b) r.fire?.();
    }, at - Date.now()).unref();
  }
  const entry: Pending = { fire };
  bucket.push(entry);
  return entry;
}
