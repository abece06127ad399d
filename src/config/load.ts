/** Reading a config file: locating it, parsing YAML/JSON with line positions, validating, resolving paths. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import type * as z from 'zod';
import { type AccessSections, accessProblems, canaryProblems } from './access.js';
import { type ConfigLocation, DEFAULT_CONFIG_FILE, locateConfig } from './locate.js';
import { type ConfigProblem, ConfigProblems, sortProblems } from './problems.js';
import { type AccessConfig, type Config, configSchema } from './schema.js';

export { DEFAULT_CONFIG_FILE };
export { isLoopbackHost, tokenAllowed, tokenEnvNames } from './access.js';
export { type ConfigProblem, ConfigProblems } from './problems.js';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from. */
  file: string;
  /** The raw text, for the journal's config digest. */
  text: string;
  /** How the file was found (--config, $QUANTUM_ROLL_CONFIG, the search). */
  location?: ConfigLocation;
}

/** `--config`, then `$QUANTUM_ROLL_CONFIG`, then the search of locate.ts; the path even when no file is there. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return locateConfig(explicit, { env }).file;
}

type Yaml = typeof import('yaml');
let yamlModule: Yaml | undefined;

/**
 * The YAML parser, needed for a YAML config or a JSON one with a problem to name by line.
 * `loadConfigAsync` loads it first (in the bundle, a chunk of its own that a plain JSON
 * config never loads); otherwise it is required here.
 */
function yaml(): Yaml {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as Yaml);
}

export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { file, text, location } = readConfigFile(explicit, env);
  return { config: parseConfigAt(text, file, env, location), file, text, location };
}

/**
 * `loadConfig` for the CLI: a config in plain JSON (no duplicate keys) that is valid is
 * read without the YAML parser (issue 21); any other loads it first. The same config,
 * the same problems, as `loadConfig`.
 */
export async function loadConfigAsync(explicit?: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const { file, text, location } = readConfigFile(explicit, env);
  const plain = plainConfig(text, file, env);
  if (plain) return { config: plain, file, text, location };
  // A CommonJS package: its exports are the namespace's default in the bundle (esbuild), and named ones too in Node.
  const m = await import('yaml');
  yamlModule ??= (m as { default?: Yaml }).default ?? m;
  return { config: parseConfigAt(text, file, env, location), file, text, location };
}

function readConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv): { file: string; text: string; location: ConfigLocation } {
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
  return { file, text, location };
}

/** Parses YAML or JSON text into a validated config. Every problem names its key path (and line); all are reported at once. */
export function parseConfig(text: string, file = '<config>', env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfigAt(text, file, env, undefined);
}

/**
 * A config written as plain JSON (an object, no key twice in any object) and valid: the
 * config, without the YAML parser. Anything else (YAML, JSON with a duplicate key, any
 * problem): undefined, and the YAML path below reads it, naming every problem's line.
 */
function plainConfig(text: string, file: string, env: NodeJS.ProcessEnv): Config | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || hasDuplicateKey(text)) return undefined;
  const result = configSchema.safeParse(raw, { jitless: true });
  if (!result.success) return undefined;
  const config = result.data;
  resolvePaths(config, dirname(file));
  const noLine = () => undefined;
  if (accessProblems(config, env, noLine).length > 0 || canaryProblems(config, dirname(file), env, noLine).length > 0) return undefined;
  return config;
}

/** Whether any object of a valid JSON text has a key twice (JSON.parse keeps the last; the YAML parser refuses it). */
export function hasDuplicateKey(json: string): boolean {
  const objects: (Set<string> | undefined)[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x7b /* { */) objects.push(new Set());
    else if (c === 0x5b /* [ */) objects.push(undefined);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) objects.pop();
    else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (json.charCodeAt(j) !== 0x22) j += json.charCodeAt(j) === 0x5c /* backslash */ ? 2 : 1;
      const top = objects[objects.length - 1];
      if (top) {
        let k = j + 1;
        while (k < json.length && /\s/.test(json[k]!)) k++;
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string;
          if (top.has(key)) return true;
          top.add(key);
        }
      }
      i = j;
    }
  }
  return false;
}

function parseConfigAt(text: string, file: string, env: NodeJS.ProcessEnv, location: ConfigLocation | undefined): Config {
  const plain = plainConfig(text, file, env);
  if (plain) return plain;
  const fail = (problems: ConfigProblem[]): never => {
    throw new ConfigProblems(sortProblems(problems), file, location);
  };
  const { LineCounter, parseDocument } = yaml();
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
  let raw: unknown;
  try {
    // Aliases resolve here: one without its anchor, or too many (an alias bomb), throws.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    fail([{ path: '', line: 1, message: `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}` }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail([{ path: '', line: 1, message: 'expected a mapping of keys at the top level' }]);
  }
  const lineOf = (path: readonly PropertyKey[]) => lineOfPath(doc, lc, path);
  // Parsed once per process: zod's compiled fast path would cost more to build than it saves (~5 ms).
  const result = configSchema.safeParse(raw, { jitless: true });
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
  const { isMap, isScalar, isSeq } = yaml();
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
        out.push({ path: keyPath(path), line: lineOf(path), message: 'unknown key (see the configuration section of the contract)' });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = 'required key is missing';
    out.push({ path: keyPath(base), line: lineOf(issue.path), message });
  }
  return out.map((p) => (p.line === undefined ? { path: p.path, message: p.message } : p));
}

/** A key path as problems name it (`lb.url`); a key that would not show (empty, blank, control characters) is quoted. */
function keyPath(path: readonly string[]): string {
  return path.map((k) => (k.trim() === '' || /\p{Cc}/u.test(k) ? JSON.stringify(k) : k)).join('.');
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

