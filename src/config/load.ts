import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
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
  checkTokens(config, file, env);
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

function checkTokens(config: Config, file: string, env: NodeJS.ProcessEnv): void {
  const sys: Array<[string, AccessConfig, string | undefined]> = [
    ['control_plane', config.control_plane, config.control_plane.url],
    ['lb', config.lb, config.lb.adapter === 'http' ? config.lb.url : undefined],
    ['node_api', config.node_api, undefined],
  ];
  for (const [name, a, url] of sys) {
    if (a.token_env !== undefined && a.token_file !== undefined) {
      throw new ConfigError(`${name}.token_file`, 'set token_env or token_file, not both', file);
    }
    if (a.token_env !== undefined && !env[a.token_env]) {
      throw new ConfigError(`${name}.token_env`, `environment variable ${a.token_env} is not set or empty`, file);
    }
    if (a.token_file !== undefined) {
      try {
        statSync(a.token_file);
      } catch {
        throw new ConfigError(`${name}.token_file`, `cannot read ${a.token_file}`, file);
      }
    }
    if ((a.cert_file === undefined) !== (a.key_file === undefined)) {
      throw new ConfigError(`${name}.${a.cert_file ? 'key_file' : 'cert_file'}`, 'cert_file and key_file go together (mTLS)', file);
    }
    if (url && hasToken(a) && !tokenAllowed(url)) {
      throw new ConfigError(
        `${name}.url`,
        `a bearer token is configured but ${url} is plain http to a non-loopback host; use https://`,
        file,
      );
    }
  }
  if (hasToken(config.node_api)) {
    for (const [id, n] of Object.entries(config.nodes)) {
      if (n.admin_url && !tokenAllowed(n.admin_url)) {
        throw new ConfigError(
          `nodes.${id}.admin_url`,
          `node_api has a bearer token but ${n.admin_url} is plain http to a non-loopback host; use https://`,
          file,
        );
      }
    }
  }
}
