/**
 * What a client is built from besides its URL: the connection pool with one system's
 * TLS settings, and its bearer token (from an environment variable or a file).
 */
import { readFileSync, statSync } from 'node:fs';
import type { Agent } from 'undici';
import type { AccessConfig } from '../config/schema.js';
import { tokenAllowed } from '../config/load.js';
import { QrError } from '../util/errors.js';
import { securityWarning } from '../util/log.js';
import { undici } from './undici.js';
import { applyLateV8Flags } from './v8-flags.js';

/** The config sections clients are set up from; messages name the key to fix (`control_plane.ca_file`). */
export type ConfigKey = 'control_plane' | 'node_api' | 'lb';

/**
 * Builds an undici Agent with the TLS settings of one system (keep-alive, bounded
 * connections). The first one sets the late V8 flags (clients/v8-flags.ts): every
 * connection comes after it.
 */
export function createDispatcher(access: AccessConfig = {}, connections = 64): Agent {
  applyLateV8Flags();
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
function warnIfExposed(file: string): void {
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

/** Whether this system is configured for TLS (so a plain-http endpoint would be a downgrade). */
function wantsTls(a: AccessConfig | undefined): boolean {
  return Boolean(a && (a.ca_file || a.cert_file || a.key_file || a.insecure_skip_verify));
}

/**
 * The bearer token of one client, after the rules of a secret's journey: a system
 * configured for TLS never falls back to plain http, a token never travels over plain
 * http (but to loopback), and disabled verification gets a warning that names the key.
 */
export function clientToken(system: string, key: ConfigKey, baseUrl: string, access: AccessConfig | undefined, env?: NodeJS.ProcessEnv): string | undefined {
  if (baseUrl.startsWith('http:') && wantsTls(access)) {
    // The admin_url the CP reports (or a URL from config) is plain http while this system is set up for TLS: never downgrade.
    throw new QrError(
      `${system}: refusing plain http to ${baseUrl}: ${key} is configured for TLS (ca_file/cert_file/key_file/insecure_skip_verify), so the endpoint must be https://`,
      { endpoint: baseUrl },
    );
  }
  const token = readToken(access, env);
  if (token && !tokenAllowed(baseUrl)) {
    throw new QrError(`${system}: refusing to send the ${key} bearer token to ${baseUrl} over plain http (use https://)`, {
      endpoint: baseUrl,
    });
  }
  if (access?.insecure_skip_verify === true && baseUrl.startsWith('https:')) {
    securityWarning(
      `insecure:${key}`,
      `TLS certificate verification is DISABLED for ${key} (insecure_skip_verify: true, first used for ${system} at ${baseUrl}): anyone on the network path can impersonate it${token ? ' and read its bearer token' : ''}. Use ca_file instead.`,
      { config_key: `${key}.insecure_skip_verify`, endpoint: baseUrl },
    );
  }
  return token;
}
