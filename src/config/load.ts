import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { type AccessConfig, type Config, configSchema } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'quantum-roll.yaml';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from. */
  file: string;
  /** The raw text, for the journal's config digest. */
  text: string;
}

/** `--config`, then `$QUANTUM_ROLL_CONFIG`, then `quantum-roll.yaml` in the working directory. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env.QUANTUM_ROLL_CONFIG ?? DEFAULT_CONFIG_FILE);
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = configPath(explicit, env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      '',
      code === 'ENOENT'
        ? `config file not found (use --config <file> or $QUANTUM_ROLL_CONFIG; \`quantum-roll sim start\` writes one for the simulator)`
        : `cannot read config file: ${(err as Error).message}`,
      file,
    );
  }
  return { config: parseConfig(text, file, env), file, text };
}

/** Parses YAML or JSON text into a validated config. Every error names the key path. */
export function parseConfig(text: string, file = '<config>', env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError('', `not valid YAML or JSON: ${(err as Error).message}`, file);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('', 'expected a mapping of keys at the top level', file);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw configIssue(result.error, file);
  const config = result.data;
  resolvePaths(config, dirname(file));
  checkAccess(config, file, env);
  return config;
}

function configIssue(error: z.ZodError, file: string): ConfigError {
  const issue = error.issues[0]!;
  let path = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    path = [path, keys[0]].filter(Boolean).join('.');
    message = `unknown key${keys.length > 1 ? `s ${keys.join(', ')}` : ''} (see the configuration section of the contract)`;
  } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    message = 'required key is missing';
  }
  return new ConfigError(path, message, file);
}

function resolvePaths(config: Config, base: string): void {
  const fix = (a: AccessConfig) => {
    for (const key of ['token_file', 'ca_file', 'cert_file', 'key_file'] as const) {
      const v = a[key];
      if (v && !isAbsolute(v)) a[key] = resolve(base, v);
    }
  };
  fix(config.control_plane);
  fix(config.node_api);
  fix(config.lb);
}

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

/**
 * The TLS and token settings of each system, checked before anything is sent: tokens
 * present and sendable, TLS files readable and well-formed, the client certificate and
 * key a matching, unexpired pair, and no plain-http URL where a token or TLS is set.
 * Messages name the key path and never contain a token.
 */
function checkAccess(config: Config, file: string, env: NodeJS.ProcessEnv): void {
  const sys: Array<[string, AccessConfig, string | undefined]> = [
    ['control_plane', config.control_plane, config.control_plane.url],
    ['lb', config.lb, config.lb.adapter === 'http' ? config.lb.url : undefined],
    ['node_api', config.node_api, undefined],
  ];
  for (const [name, a, url] of sys) {
    if (config.lb.adapter !== 'http' && name === 'lb' && (hasToken(a) || hasTls(a))) {
      const key = (['token_env', 'token_file', 'ca_file', 'cert_file', 'key_file', 'insecure_skip_verify'] as const).find((k) => a[k] !== undefined);
      throw new ConfigError(`lb.${key}`, `only the http adapter uses TLS and token settings (adapter is ${config.lb.adapter})`, file);
    }
    if (a.token_env !== undefined && a.token_file !== undefined) {
      throw new ConfigError(`${name}.token_file`, 'set token_env or token_file, not both', file);
    }
    if (a.token_env !== undefined) {
      const v = env[a.token_env]?.trim();
      if (!v) throw new ConfigError(`${name}.token_env`, `environment variable ${a.token_env} is not set or empty`, file);
      if (!TOKEN_CHARS.test(v)) {
        throw new ConfigError(`${name}.token_env`, `the token in ${a.token_env} contains spaces or control characters (not allowed in an HTTP header)`, file);
      }
    }
    if (a.token_file !== undefined) {
      let v: string;
      try {
        v = readFileSync(a.token_file, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(`${name}.token_file`, `cannot read ${a.token_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file);
      }
      if (!v) throw new ConfigError(`${name}.token_file`, `${a.token_file} is empty`, file);
      if (!TOKEN_CHARS.test(v)) {
        throw new ConfigError(`${name}.token_file`, `the token in ${a.token_file} contains spaces or control characters (not allowed in an HTTP header)`, file);
      }
    }
    if ((a.cert_file === undefined) !== (a.key_file === undefined)) {
      throw new ConfigError(`${name}.${a.cert_file ? 'key_file' : 'cert_file'}`, 'cert_file and key_file go together (mTLS)', file);
    }
    checkTlsFiles(name, a, file);
    if (url && hasTls(a) && new URL(url).protocol === 'http:') {
      throw new ConfigError(
        `${name}.url`,
        `TLS settings (ca_file/cert_file/key_file/insecure_skip_verify) are set but ${url} is plain http; use https://`,
        file,
      );
    }
    if (url && hasToken(a) && !tokenAllowed(url)) {
      throw new ConfigError(
        `${name}.url`,
        `a bearer token is configured but ${url} is plain http to a non-loopback host; use https://`,
        file,
      );
    }
  }
  const nodeTls = hasTls(config.node_api);
  const nodeToken = hasToken(config.node_api);
  for (const [id, n] of Object.entries(config.nodes)) {
    if (!n.admin_url || new URL(n.admin_url).protocol !== 'http:') continue;
    if (nodeTls) {
      throw new ConfigError(`nodes.${id}.admin_url`, `node_api has TLS settings but ${n.admin_url} is plain http; use https://`, file);
    }
    if (nodeToken && !tokenAllowed(n.admin_url)) {
      throw new ConfigError(
        `nodes.${id}.admin_url`,
        `node_api has a bearer token but ${n.admin_url} is plain http to a non-loopback host; use https://`,
        file,
      );
    }
  }
}

function readTlsFile(key: string, path: string, file: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file; a file with none, or one that does not parse, is a config error. */
function pemCertificates(key: string, path: string, pem: Buffer, file: string): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ConfigError(key, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, file);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ConfigError(key, `certificate ${i + 1} in ${path} does not parse: ${(err as Error).message}`, file);
    }
  });
}

function checkTlsFiles(name: string, a: AccessConfig, file: string): void {
  if (a.ca_file !== undefined) pemCertificates(`${name}.ca_file`, a.ca_file, readTlsFile(`${name}.ca_file`, a.ca_file, file), file);
  if (a.cert_file === undefined || a.key_file === undefined) return;
  const cert = readTlsFile(`${name}.cert_file`, a.cert_file, file);
  const key = readTlsFile(`${name}.key_file`, a.key_file, file);
  const [leaf] = pemCertificates(`${name}.cert_file`, a.cert_file, cert, file);
  const expires = Date.parse(leaf!.validTo);
  if (!Number.isNaN(expires) && expires < Date.now()) {
    throw new ConfigError(`${name}.cert_file`, `the client certificate in ${a.cert_file} expired on ${new Date(expires).toISOString()}`, file);
  }
  try {
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? `the key in ${a.key_file} does not belong to the certificate in ${a.cert_file}`
        : `cannot use ${a.key_file} as the private key of ${a.cert_file} (${code ?? (err as Error).message}; encrypted keys are not supported)`;
    throw new ConfigError(`${name}.key_file`, why, file);
  }
}

/** The variables quantum-roll reads bearer tokens from: commands it runs do not inherit them. */
export function tokenEnvNames(config: Config): string[] {
  return [config.control_plane.token_env, config.node_api.token_env, config.lb.token_env].filter((v): v is string => typeof v === 'string');
}
