/**
 * Why a TLS connection failed, in the operator's words: which check failed, what it
 * means, and which config key fixes it. Node and OpenSSL name failures by code
 * (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`); a connection closed before any answer is
 * asked again with a bare handshake, which hears the alert the HTTP client missed.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type tls from 'node:tls';
import type { AccessConfig } from '../config/schema.js';
import { QrError } from '../util/errors.js';
import { nodeTls } from '../util/node-tls.js';

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
export const CLOSED_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

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
      socket = nodeTls().connect({
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

export function errCode(err: unknown): string | undefined {
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

/** What {@link tlsFailure} needs to know about the client that saw the failure. */
export interface TlsFailureContext {
  /** "control plane", "node node-3", "LB" */
  system: string;
  /** The config section whose settings fix it: `control_plane`, `node_api`, `lb`. */
  configKey: string;
  access: AccessConfig;
  /** The URL for messages (lease tokens redacted). */
  shown: string;
  /** Redacts secrets from a message text. */
  scrub(text: string): string;
}

/**
 * The error of a TLS failure, or undefined when `err` (with its diagnosed `code`) is
 * not one: "control plane: TLS failure for https://…: unknown CA: …; set control_plane.ca_file …".
 */
export function tlsFailure(err: unknown, code: string | undefined, url: string, c: TlsFailureContext): QrError | undefined {
  const known = isKnownTlsCode(code) ? TLS_REASONS[code] : undefined;
  if (!known && !/certificate|SSL|TLS/i.test((err as Error).message ?? '')) return undefined;
  const origin = new URL(url).origin;
  const key = c.configKey;
  const r = known ?? { check: 'handshake', text: c.scrub((err as Error).message) };
  const detail = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? altnameDetail(err, origin) : '';
  const fix =
    r.fix === 'ca'
      ? `; set ${key}.ca_file to the CA that signed it`
      : r.fix === 'cert'
        ? `; ${c.access.cert_file ? 'check' : 'set'} ${key}.cert_file and ${key}.key_file`
        : '';
  return new QrError(
    `${c.system}: TLS failure for ${origin}: ${r.check}: ${r.text}${detail}${fix} [${code}]`,
    { endpoint: c.shown, evidence: { tls_check: r.check, tls_code: code } },
    { cause: err },
  );
}

/** Whether {@link probeTls}'s answer names a failure this module can explain. */
export function isKnownTlsCode(code: string | undefined): code is string {
  return code !== undefined && Object.hasOwn(TLS_REASONS, code);
}
