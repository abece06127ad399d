/** Reading a config file: locating it, parsing YAML/JSON with line positions, validating, resolving paths. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
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

