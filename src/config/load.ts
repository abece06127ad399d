import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { type ConfigLocation, DEFAULT_CONFIG_FILE, locateConfig } from './locate.js';
import { type AccessConfig, type Config, configSchema } from './schema.js';

export { DEFAULT_CONFIG_FILE };

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from. */
  file: string;
  /** The raw text, for the journal's config digest. */
  text: string;
  /** How the file was found (--config, $QUANTUM_ROLL_CONFIG, the search). */
  location?: ConfigLocation;
}

/** One mistake of a config file: its key path (e.g. `lb.url`, '' for the file itself), line (1-based) when known, and what is wrong. */
export interface ConfigProblem {
  path: string;
  line?: number;
  message: string;
}

/**
 * Every problem of one config file, reported at once (issue 15). It is a ConfigError
 * (exit 2) whose keyPath is the first problem's; `problems` lists them all, in file order.
 */
export class ConfigProblems extends ConfigError {
  constructor(
    readonly problems: ConfigProblem[],
    file: string,
    readonly location?: ConfigLocation,
  ) {
    const first = problems[0] ?? { path: '', message: 'invalid config' };
    super(first.path, first.message, file);
    this.name = 'ConfigError';
    this.message = formatProblems(problems, file, location);
    this.details.evidence = {
      config_file: file,
      ...(location ? { config_source: location.source } : {}),
      problems: problems.map((p) => ({ path: p.path, ...(p.line !== undefined ? { line: p.line } : {}), message: p.message })),
    };
  }
}

const where = (p: ConfigProblem) => `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`;

function formatProblems(problems: ConfigProblem[], file: string, location?: ConfigLocation): string {
  const from = location?.found && location.source !== '--config' ? ` (found via ${location.source})` : '';
  if (problems.length === 1) {
    const p = problems[0]!;
    return `${file}${p.line !== undefined ? `:${p.line}` : ''}${from}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
  }
  return `${file}${from}: ${problems.length} problems\n${problems.map((p) => `  ${where(p)}`).join('\n')}`;
}

/** `--config`, then `$QUANTUM_ROLL_CONFIG`, then the search of locate.ts; the path even when no file is there. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return locateConfig(explicit, { env }).file;
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const location = locateConfig(explicit, { env });
  const file = location.file;
  if (!location.found && location.source !== '--config' && location.source !== '$QUANTUM_ROLL_CONFIG') {
    throw new ConfigProblems(
      [
        {
          path: '',
          message: `config file not found; looked in ${location.searched.join(', ')} (use --config <file> or $QUANTUM_ROLL_CONFIG; \`quantum-roll sim start\` writes one for the simulator)`,
        },
      ],
      file,
      location,
    );
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigProblems(
      [
        {
          path: '',
          message:
            code === 'ENOENT'
              ? `config file not found (given by ${location.source}; use --config <file> or $QUANTUM_ROLL_CONFIG; \`quantum-roll sim start\` writes one for the simulator)`
              : `cannot read config file: ${(err as Error).message}`,
        },
      ],
      file,
      location,
    );
  }
  return { config: parseConfigAt(text, file, env, location), file, text, location };
}

/** Parses YAML or JSON text into a validated config. Every problem names its key path (and line); all are reported at once. */
export function parseConfig(text: string, file = '<config>', env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfigAt(text, file, env, undefined);
}

function parseConfigAt(text: string, file: string, env: NodeJS.ProcessEnv, location: ConfigLocation | undefined): Config {
  const fail = (problems: ConfigProblem[]): never => {
    throw new ConfigProblems(sortProblems(problems), file, location);
  };
  const lc = new LineCounter();
  // JSON is YAML 1.2 (nearly): one parser, and line numbers for both.
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    fail(
      doc.errors.map((e) => ({
        path: '',
        ...(e.linePos ? { line: e.linePos[0].line } : {}),
        message: `not valid YAML or JSON: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail([{ path: '', line: 1, message: 'expected a mapping of keys at the top level' }]);
  }
  const lineOf = (path: readonly PropertyKey[]) => lineOfPath(doc, lc, path);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = schemaProblems(result.error, lineOf);
    // The TLS and token rules need four sections; when those are valid, check them too so one
    // run lists every mistake, not the schema's first and then the rest on the next run.
    const sections = partialAccessSections(raw as Record<string, unknown>);
    if (sections) {
      resolvePaths(sections, dirname(file));
      problems.push(...accessProblems(sections, env, lineOf));
    }
    fail(problems);
  }
  const config = result.data!;
  resolvePaths(config, dirname(file));
  const access = [...accessProblems(config, env, lineOf), ...canaryProblems(config, dirname(file), env, lineOf)];
  if (access.length > 0) fail(access);
  return config;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const k = `${p.path}\0${p.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((p, i) => [p, i] as const)
    .sort(([a, i], [b, j]) => (a.line ?? Infinity) - (b.line ?? Infinity) || i - j)
    .map(([p]) => p);
}

type AccessSections = Pick<Config, 'control_plane' | 'node_api' | 'lb' | 'nodes'>;

function partialAccessSections(raw: Record<string, unknown>): AccessSections | undefined {
  const shape = configSchema.shape;
  const cp = shape.control_plane.safeParse(raw.control_plane);
  const node = shape.node_api.safeParse(raw.node_api);
  const lb = shape.lb.safeParse(raw.lb);
  const nodes = shape.nodes.safeParse(raw.nodes);
  if (!cp.success || !node.success || !lb.success || !nodes.success) return undefined;
  return { control_plane: cp.data, node_api: node.data, lb: lb.data, nodes: nodes.data };
}

/** The line of the deepest key of `path` present in the document (a missing key: its parent's line). */
function lineOfPath(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) break;
      const keyRange = isScalar(pair.key) ? pair.key.range : undefined;
      if (keyRange) offset = keyRange[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) break;
      const r = (item as { range?: [number, number, number] }).range;
      if (r) offset = r[0];
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lc.linePos(offset).line;
}

function schemaProblems(error: z.ZodError, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      // One problem per unknown key: each has its own line to fix.
      for (const key of issue.keys) {
        const path = [...base, key];
        out.push({ path: path.join('.'), line: lineOf(path), message: 'unknown key (see the configuration section of the contract)' });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = 'required key is missing';
    out.push({ path: base.join('.'), line: lineOf(issue.path), message });
  }
  return out.map((p) => (p.line === undefined ? { path: p.path, message: p.message } : p));
}

function resolvePaths(config: AccessSections, base: string): void {
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
function accessProblems(config: AccessSections, env: NodeJS.ProcessEnv, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // Each check stands alone: one failing does not hide the next (a check that needs an
  // earlier one's result lives in the same closure).
  const attempt = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof AccessIssue)) throw err;
      problems.push({ path: err.path, line: lineOf(err.path.split('.')), message: err.message });
    }
  };
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
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
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
function canaryProblems(config: Config, base: string, env: NodeJS.ProcessEnv, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  const c = config.canary;
  if (!c) return [];
  const problems: ConfigProblem[] = [];
  const attempt = (check: () => void) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof AccessIssue)) throw err;
      problems.push({ path: err.path, line: lineOf(err.path.split('.')), message: err.message });
    }
  };
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
