/**
 * One HTTP client per API: base URL, TLS, bearer token, request ids, bounded retry
 * of transient failures, a size cap, and a zod parse of every answer at the boundary.
 */
import { sleep } from '../util/sleep.js';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import tls from 'node:tls';
import pRetry, { AbortError } from 'p-retry';
import type { Agent, Dispatcher } from 'undici';
import { z } from 'zod';
import { HttpError, ProtocolError, QrError } from '../util/errors.js';
import type { AccessConfig } from '../config/schema.js';
import { tokenAllowed } from '../config/load.js';
import { securityWarning } from '../util/log.js';
import { errorBodySchema } from './schemas.js';

const RAW_TEXT = z.string();

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

/**
 * The two parts of undici this client uses: Agent and the request API. undici's package
 * entry loads all of it (fetch, websockets, caches, mocks: ~160 ms of CPU at every CLI
 * start on the bench machine); these two modules cost about a third of that. Falls back
 * to the package entry should a release move them.
 */
const undici = ((): { Agent: typeof Agent; request: (url: string, opts: RequestOptions) => Promise<Dispatcher.ResponseData> } => {
  const require = createRequire(import.meta.url);
  try {
    const AgentClass = require('undici/lib/dispatcher/agent.js') as typeof Agent;
    const apiRequest = require('undici/lib/api/api-request.js') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
    if (typeof AgentClass === 'function' && typeof apiRequest === 'function') {
      return {
        Agent: AgentClass,
        request: (url, { dispatcher, ...opts }) => {
          const u = new URL(url);
          return apiRequest.call(dispatcher, { ...opts, origin: u.origin, path: `${u.pathname}${u.search}` } as Dispatcher.RequestOptions);
        },
      };
    }
  } catch {
    // a different undici layout: use the package entry
  }
  const full = require('undici') as typeof import('undici');
  return { Agent: full.Agent, request: (url, opts) => full.request(url, opts) };
})();

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
  return new undici.Agent({
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
  if (access.token_file) {
    warnIfExposed(access.token_file);
    return readFileSync(access.token_file, 'utf8').trim() || undefined;
  }
  return undefined;
}

/** A token file that group or others may read gets a warning (like ssh does for keys). */
export function warnIfExposed(file: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return;
  }
  if ((mode & 0o077) !== 0) {
    securityWarning(
      `token_file:${file}`,
      `token file ${file} is readable or writable by group/others (mode ${(mode & 0o777).toString(8).padStart(3, '0')}); restrict it: chmod 600 ${file}`,
      { file, mode: (mode & 0o777).toString(8) },
    );
  }
}

/** The config section an HttpClient's settings come from, for messages. */
function configKeyOf(system: string): string {
  if (system === 'control plane') return 'control_plane';
  if (system === 'LB') return 'lb';
  return 'node_api';
}

/** Whether this system is configured for TLS (so a plain-http endpoint would be a downgrade). */
function wantsTls(a: AccessConfig | undefined): boolean {
  return Boolean(a && (a.ca_file || a.cert_file || a.key_file || a.insecure_skip_verify));
}

/** A URL for messages and logs: the `token` query parameter (lease token) is never shown. */
export function displayUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[redacted]');
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

/** Which TLS check failed, what it means, and which setting fixes it ("ca": `ca_file`; "cert": `cert_file`/`key_file`). */
interface TlsReason {
  check: string;
  text: string;
  fix?: 'ca' | 'cert';
}

const unknownCa = (text: string): TlsReason => ({ check: 'unknown CA', text, fix: 'ca' });
const notTls: TlsReason = { check: 'not TLS', text: 'the endpoint does not speak TLS (is it plain http?)' };

const TLS_REASONS: Record<string, TlsReason> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: unknownCa('the server certificate is not signed by a trusted CA'),
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unknownCa('the server certificate is not signed by a trusted CA'),
  UNABLE_TO_GET_ISSUER_CERT: unknownCa('the issuer of the server certificate is not trusted'),
  SELF_SIGNED_CERT_IN_CHAIN: unknownCa('the server certificate chain ends in a CA that is not trusted'),
  DEPTH_ZERO_SELF_SIGNED_CERT: unknownCa('the server certificate is self-signed and not trusted'),
  CERT_SIGNATURE_FAILURE: unknownCa('the server certificate signature does not verify'),
  ERR_TLS_CERT_ALTNAME_INVALID: { check: 'name mismatch', text: 'the server certificate is not valid for this host name' },
  CERT_HAS_EXPIRED: { check: 'expired', text: 'the server certificate has expired' },
  CERT_NOT_YET_VALID: { check: 'not yet valid', text: 'the server certificate is not valid yet (check the clocks)' },
  CERT_REVOKED: { check: 'revoked', text: 'the server certificate has been revoked' },
  INVALID_PURPOSE: { check: 'wrong purpose', text: 'the server certificate is not meant for TLS server authentication' },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: { check: 'client certificate required', text: 'the server requires a client certificate (mTLS)', fix: 'cert' },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: {
    check: 'handshake refused',
    text: 'the server refused the TLS handshake (it may require a client certificate, or share no cipher)',
    fix: 'cert',
  },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { check: 'client certificate rejected', text: 'the server rejected the client certificate', fix: 'cert' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: { check: 'client certificate rejected', text: 'the server rejected the client certificate', fix: 'cert' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: { check: 'client certificate expired', text: 'the server says the client certificate has expired', fix: 'cert' },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: {
    check: 'client certificate untrusted',
    text: 'the server does not trust the CA of the client certificate',
    fix: 'cert',
  },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: { check: 'protocol version', text: 'no TLS version in common (quantum-roll requires TLS 1.2 or newer)' },
  ERR_SSL_UNSUPPORTED_PROTOCOL: { check: 'protocol version', text: 'no TLS version in common (quantum-roll requires TLS 1.2 or newer)' },
  ERR_SSL_WRONG_VERSION_NUMBER: notTls,
  ERR_SSL_PACKET_LENGTH_TOO_LONG: notTls,
  ERR_OSSL_X509_KEY_VALUES_MISMATCH: { check: 'client key', text: 'the client certificate and key do not match', fix: 'cert' },
  SPEAKS_TLS: { check: 'plain http to a TLS port', text: 'the endpoint speaks TLS but the URL is http:// (use https://)' },
  EPROTO: { check: 'handshake', text: 'the TLS handshake failed' },
};

/** "(host 127.0.0.1; the certificate is for DNS:wrong.example)" from a name-mismatch error. */
function altnameDetail(err: unknown, origin: string): string {
  let e: unknown = err;
  while (e && (e as { code?: unknown }).code !== 'ERR_TLS_CERT_ALTNAME_INVALID') e = (e as { cause?: unknown }).cause;
  const x = (e ?? err) as { host?: unknown; cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } } };
  const host = typeof x.host === 'string' ? x.host : new URL(origin).hostname;
  const san = x.cert?.subjectaltname;
  const cn = x.cert?.subject?.CN;
  const names = typeof san === 'string' && san ? san : typeof cn === 'string' ? `CN=${cn}` : 'no name';
  return ` (host ${host}; the certificate is for ${names.slice(0, 300)})`;
}

/** Codes of a connection that closed before any HTTP answer: a TLS handshake of our own may tell why. */
const CLOSED_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

/**
 * Diagnoses a connection closed without an answer. Under TLS 1.3 a server that refuses
 * the client certificate (missing, unknown CA) sends its alert only after the client
 * finished the handshake, so the HTTP client sees just "other side closed". A bare
 * handshake with the same settings (no request is sent) receives the alert and names
 * it. For an http:// URL it checks whether the port speaks TLS. Resolves to an error
 * code of {@link TLS_REASONS}, or undefined when nothing TLS-related is found.
 */
export function probeTls(url: string, access: AccessConfig = {}, timeoutMs = 1_500): Promise<string | undefined> {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (https ? 443 : 80));
  return new Promise((resolve) => {
    let done = false;
    let socket: tls.TLSSocket | undefined;
    const finish = (code: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    try {
      const read = (f?: string) => (f ? readFileSync(f) : undefined);
      socket = tls.connect({
        host,
        port,
        servername: isIP(host) ? undefined : host,
        ALPNProtocols: ['http/1.1'],
        minVersion: 'TLSv1.2',
        ...(https
          ? { ca: read(access.ca_file), cert: read(access.cert_file), key: read(access.key_file), rejectUnauthorized: access.insecure_skip_verify !== true }
          : { rejectUnauthorized: false }),
      });
    } catch (err) {
      finish(errCode(err));
      return;
    }
    socket.on('error', (err) => finish(https ? errCode(err) : undefined));
    socket.on('close', () => finish(undefined));
    socket.on('secureConnect', () => {
      if (!https) return finish('SPEAKS_TLS');
      // A TLS 1.3 server's verdict on our certificate arrives just after the handshake.
      setTimeout(() => finish(undefined), 300);
    });
  });
}

function errCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  // DOMExceptions (TimeoutError, AbortError) carry a numeric legacy code: their name says it.
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : (err as { name?: string } | undefined)?.name;
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
  private readonly access: AccessConfig;
  private counter = 0;
  private lastProbe = 0;

  constructor(opts: HttpOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.system = opts.system;
    this.access = opts.access ?? {};
    const key = configKeyOf(this.system);
    if (this.baseUrl.startsWith('http:') && wantsTls(opts.access)) {
      // The admin_url the CP reports (or a URL from config) is plain http while this system is set up for TLS: never downgrade.
      throw new QrError(
        `${this.system}: refusing plain http to ${this.baseUrl}: ${key} is configured for TLS (ca_file/cert_file/key_file/insecure_skip_verify), so the endpoint must be https://`,
        { endpoint: this.baseUrl },
      );
    }
    this.token = readToken(opts.access, opts.env);
    if (this.token && !tokenAllowed(this.baseUrl)) {
      throw new QrError(`${this.system}: refusing to send the ${key} bearer token to ${this.baseUrl} over plain http (use https://)`, {
        endpoint: this.baseUrl,
      });
    }
    if (opts.access?.insecure_skip_verify === true && this.baseUrl.startsWith('https:')) {
      securityWarning(
        `insecure:${key}`,
        `TLS certificate verification is DISABLED for ${key} (insecure_skip_verify: true, first used for ${this.system} at ${this.baseUrl}): anyone on the network path can impersonate it${this.token ? ' and read its bearer token' : ''}. Use ca_file instead.`,
        { config_key: `${key}.insecure_skip_verify`, endpoint: this.baseUrl },
      );
    }
    this.dispatcher = opts.dispatcher ?? createDispatcher(opts.access);
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
    const shown = displayUrl(url);
    const where = `${method} ${shown}`;
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
    const signal = requestSignal(timeout, opts.signal);
    let res: Dispatcher.ResponseData;
    try {
      res = await undici.request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher: this.dispatcher,
        signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw await this.transportError(where, url, err, opts.signal);
    }
    const text = await this.readBody(res, where, shown);
    const status = res.statusCode;
    const ok = (status >= 200 && status < 300) || opts.answerStatuses?.includes(status);
    if (!ok) {
      const parsed = errorBodySchema.safeParse(tryJson(text));
      const code = parsed.success ? parsed.data.error.code : undefined;
      const msg = this.scrub((parsed.success ? parsed.data.error.message : text.slice(0, 200)).replace(/\p{Cc}+/gu, ' '));
      const err = new HttpError(
        `${this.system}: ${where} answered ${status}${code ? ` ${code.slice(0, 64)}` : ''}${msg ? `: ${msg}` : ''}`,
        status,
        code,
        { endpoint: shown },
        tryJson(text),
      );
      if (status >= 300 && status < 400) {
        const loc = res.headers.location;
        const to = typeof loc === 'string' ? ` to ${displayUrl(loc).slice(0, 200)}` : '';
        throw new AbortError(
          new ProtocolError(`${this.system}: ${where} answered a redirect (${status}${to}); redirects are not followed`, { endpoint: shown }),
        );
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
      throw new AbortError(new ProtocolError(`${this.system}: invalid response from ${where}: body is not JSON`, { endpoint: shown }));
    }
    const parsed = opts.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.map(String).join('.') : '(body)';
      throw new AbortError(
        new ProtocolError(`${this.system}: invalid response from ${where}: field "${field}": ${this.scrub(issue.message)}`, {
          endpoint: shown,
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
      throw await this.transportError(where, url, err);
    }
    return Buffer.concat(chunks).toString('utf8');
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
    const origin = new URL(url).origin;
    if (code && CLOSED_CODES.has(code) && Date.now() - this.lastProbe > 5_000) {
      // Closed before any answer: ask a bare TLS handshake why (mTLS refusals under TLS 1.3, TLS on an http:// URL).
      this.lastProbe = Date.now();
      const probed = await probeTls(url, this.access);
      if (probed && TLS_REASONS[probed]) code = probed;
    }
    const tls = code ? TLS_REASONS[code] : undefined;
    if (tls || /certificate|SSL|TLS/i.test((err as Error).message ?? '')) {
      const key = configKeyOf(this.system);
      const r = tls ?? { check: 'handshake', text: this.scrub((err as Error).message) };
      const detail = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? altnameDetail(err, origin) : '';
      const fix =
        r.fix === 'ca'
          ? `; set ${key}.ca_file to the CA that signed it`
          : r.fix === 'cert'
            ? `; ${this.access.cert_file ? 'check' : 'set'} ${key}.cert_file and ${key}.key_file`
            : '';
      return new AbortError(
        new QrError(`${this.system}: TLS failure for ${origin}: ${r.check}: ${r.text}${detail}${fix} [${code}]`, {
          endpoint: shown,
          evidence: { tls_check: r.check, tls_code: code },
        }, { cause: err }),
      );
    }
    const timeout = code === 'TimeoutError' || code === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT';
    const qr = new HttpError(
      `${this.system}: ${where} ${timeout ? 'timed out' : `is unreachable (${code ?? this.scrub((err as Error).message)})`}`,
      undefined,
      code,
      { endpoint: shown },
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

/**
 * A request's abort signal: its own timeout, plus the caller's signal when there is one.
 * One AbortController and one unref'd timer per request: AbortSignal.timeout with
 * AbortSignal.any costs about three times the CPU, which shows with thousands of requests.
 */
function requestSignal(timeoutMs: number, caller?: AbortSignal): AbortSignal {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs).unref();
  return caller ? AbortSignal.any([ac.signal, caller]) : ac.signal;
}
