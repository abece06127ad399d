/** The TLS and token checks of a config: tokens present and sendable, TLS files well-formed, no token or TLS over plain http. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { nodeTls } from '../util/node-tls.js';
import type { ConfigProblem } from './problems.js';
import type { AccessConfig, Config } from './schema.js';

/** The four sections the access checks read. */
export type AccessSections = Pick<Config, 'control_plane' | 'node_api' | 'lb' | 'nodes'>;

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A bearer token is sent only over https, or plain http to a loopback address. */
export function tokenAllowed(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'https:' || isLoopbackHost(u.hostname);
}

function hasToken(a: AccessConfig): boolean {
  return a.token_env !== undefined || a.token_file !== undefined;
}

/** TLS material is configured for this system: its endpoints must be https://. */
function hasTls(a: AccessConfig): boolean {
  return a.ca_file !== undefined || a.cert_file !== undefined || a.key_file !== undefined || a.insecure_skip_verify === true;
}

/** Visible ASCII only: a token with a space, newline or control character could split or inject a header. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/** Runs one check; an AccessIssue it throws becomes a problem with its key's line, anything else propagates. */
function collector(problems: ConfigProblem[], lineOf: (path: readonly PropertyKey[]) => number | undefined): (check: () => void) => void {
  return (check) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof AccessIssue)) throw err;
      problems.push({ path: err.path, line: lineOf(err.path.split('.')), message: err.message });
    }
  };
}

/**
 * The TLS and token settings of each system, checked before anything is sent: tokens
 * present and sendable, TLS files readable and well-formed, the client certificate and
 * key a matching, unexpired pair, and no plain-http URL where a token or TLS is set.
 * Messages name the key path and never contain a token.
 */
export function accessProblems(config: AccessSections, env: NodeJS.ProcessEnv, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // Each check stands alone: one failing does not hide the next (a check that needs an
  // earlier one's result lives in the same closure).
  const attempt = collector(problems, lineOf);
  const sys: Array<[string, AccessConfig, string | undefined]> = [
    ['control_plane', config.control_plane, config.control_plane.url],
    ['lb', config.lb, config.lb.adapter === 'http' ? config.lb.url : undefined],
    ['node_api', config.node_api, undefined],
  ];
  for (const [name, a, url] of sys) {
    if (config.lb.adapter !== 'http' && name === 'lb' && (hasToken(a) || hasTls(a))) {
      attempt(() => {
        const key = (['token_env', 'token_file', 'ca_file', 'cert_file', 'key_file', 'insecure_skip_verify'] as const).find((k) => a[k] !== undefined);
        throw new AccessIssue(`lb.${key}`, `only the http adapter uses TLS and token settings (adapter is ${config.lb.adapter})`);
      });
      continue;
    }
    attempt(() => {
      if (a.token_env !== undefined && a.token_file !== undefined) {
        throw new AccessIssue(`${name}.token_file`, 'set token_env or token_file, not both');
      }
    });
    attempt(() => {
      if (a.token_env === undefined) return;
      const v = env[a.token_env]?.trim();
      if (!v) throw new AccessIssue(`${name}.token_env`, `environment variable ${a.token_env} is not set or empty`);
      if (!TOKEN_CHARS.test(v)) {
        throw new AccessIssue(`${name}.token_env`, `the token in ${a.token_env} contains spaces or control characters (not allowed in an HTTP header)`);
      }
    });
    attempt(() => {
      if (a.token_file === undefined) return;
      let v: string;
      try {
        v = readFileSync(a.token_file, 'utf8').trim();
      } catch (err) {
        throw new AccessIssue(`${name}.token_file`, `cannot read ${a.token_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (!v) throw new AccessIssue(`${name}.token_file`, `${a.token_file} is empty`);
      if (!TOKEN_CHARS.test(v)) {
        throw new AccessIssue(`${name}.token_file`, `the token in ${a.token_file} contains spaces or control characters (not allowed in an HTTP header)`);
      }
    });
    attempt(() => {
      if ((a.cert_file === undefined) !== (a.key_file === undefined)) {
        throw new AccessIssue(`${name}.${a.cert_file ? 'key_file' : 'cert_file'}`, 'cert_file and key_file go together (mTLS)');
      }
    });
    attempt(() => checkCaFile(name, a));
    attempt(() => checkClientPair(name, a));
    attempt(() => {
      if (url && hasTls(a) && new URL(url).protocol === 'http:') {
        throw new AccessIssue(`${name}.url`, `TLS settings (ca_file/cert_file/key_file/insecure_skip_verify) are set but ${url} is plain http; use https://`);
      }
      if (url && hasToken(a) && !tokenAllowed(url)) {
        throw new AccessIssue(`${name}.url`, `a bearer token is configured but ${url} is plain http to a non-loopback host; use https://`);
      }
    });
  }
  const nodeTls = hasTls(config.node_api);
  const nodeToken = hasToken(config.node_api);
  for (const [id, n] of Object.entries(config.nodes)) {
    if (!n.admin_url || new URL(n.admin_url).protocol !== 'http:') continue;
    attempt(() => {
      if (nodeTls) {
        throw new AccessIssue(`nodes.${id}.admin_url`, `node_api has TLS settings but ${n.admin_url} is plain http; use https://`);
      }
      if (nodeToken && !tokenAllowed(n.admin_url!)) {
        throw new AccessIssue(`nodes.${id}.admin_url`, `node_api has a bearer token but ${n.admin_url} is plain http to a non-loopback host; use https://`);
      }
    });
  }
  return problems;
}

/** One access mistake: thrown inside accessProblems' checks, collected there. */
class AccessIssue extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function readTlsFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AccessIssue(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file; a file with none, or one that does not parse, is a config error. */
function pemCertificates(key: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new AccessIssue(key, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new AccessIssue(key, `certificate ${i + 1} in ${path} does not parse: ${(err as Error).message}`);
    }
  });
}

function checkCaFile(name: string, a: AccessConfig): void {
  if (a.ca_file !== undefined) pemCertificates(`${name}.ca_file`, a.ca_file, readTlsFile(`${name}.ca_file`, a.ca_file));
}

function checkClientPair(name: string, a: AccessConfig): void {
  if (a.cert_file === undefined || a.key_file === undefined) return;
  const cert = readTlsFile(`${name}.cert_file`, a.cert_file);
  const key = readTlsFile(`${name}.key_file`, a.key_file);
  const [leaf] = pemCertificates(`${name}.cert_file`, a.cert_file, cert);
  const expires = Date.parse(leaf!.validTo);
  if (!Number.isNaN(expires) && expires < Date.now()) {
    throw new AccessIssue(`${name}.cert_file`, `the client certificate in ${a.cert_file} expired on ${new Date(expires).toISOString()}`);
  }
  try {
    nodeTls().createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? `the key in ${a.key_file} does not belong to the certificate in ${a.cert_file}`
        : `cannot use ${a.key_file} as the private key of ${a.cert_file} (${code ?? (err as Error).message}; encrypted keys are not supported)`;
    throw new AccessIssue(`${name}.key_file`, why);
  }
}

/** The variables quantum-roll reads bearer tokens (and the canary's MQTT credentials) from: commands it runs do not inherit them. */
export function tokenEnvNames(config: Config): string[] {
  return [config.control_plane.token_env, config.node_api.token_env, config.lb.token_env, config.canary?.username_env, config.canary?.password_env].filter(
    (v): v is string => typeof v === 'string',
  );
}

/**
 * The canary's files (relative to the config) and credentials: the variables set, the
 * password file readable and not empty, the TLS files well-formed. Never the secret in a message.
 */
export function canaryProblems(config: Config, base: string, env: NodeJS.ProcessEnv, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  const c = config.canary;
  if (!c) return [];
  const problems: ConfigProblem[] = [];
  const attempt = collector(problems, lineOf);
  if (c.password_file && !isAbsolute(c.password_file)) c.password_file = resolve(base, c.password_file);
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const v = c.tls?.[key];
    if (c.tls && v && !isAbsolute(v)) c.tls[key] = resolve(base, v);
  }
  for (const key of ['username_env', 'password_env'] as const) {
    attempt(() => {
      const name = c[key];
      if (name !== undefined && !env[name]) throw new AccessIssue(`canary.${key}`, `environment variable ${name} is not set or empty`);
    });
  }
  attempt(() => {
    if (c.password_file === undefined) return;
    let v: string;
    try {
      v = readFileSync(c.password_file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new AccessIssue('canary.password_file', `cannot read ${c.password_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!v) throw new AccessIssue('canary.password_file', `${c.password_file} is empty`);
  });
  if (c.tls) {
    attempt(() => checkCaFile('canary.tls', c.tls!));
    attempt(() => checkClientPair('canary.tls', c.tls!));
  }
  return problems;
}
