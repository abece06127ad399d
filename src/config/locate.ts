/**
 * Where the config and the state dir are, the way operators expect (issue 15):
 * the config is the first of `--config`, `$QUANTUM_ROLL_CONFIG`, `./quantum-roll.yaml`,
 * `$XDG_CONFIG_HOME/quantum-roll/config.yaml`, `/etc/quantum-roll/config.yaml`; the state
 * dir is `.quantum-roll/` beside the config when that can be written, else
 * `$XDG_STATE_HOME/quantum-roll` (or `~/.local/state/quantum-roll`).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';

export const DEFAULT_CONFIG_FILE = 'quantum-roll.yaml';

export type ConfigSource = '--config' | '$QUANTUM_ROLL_CONFIG' | './quantum-roll.yaml' | '$XDG_CONFIG_HOME' | '/etc';

export interface ConfigLocation {
  /** Absolute path of the file chosen (it may not exist when given explicitly). */
  file: string;
  /** Which rule chose it, for messages: "(from $QUANTUM_ROLL_CONFIG)". */
  source: ConfigSource;
  /** Every place looked at, in order, up to and including the chosen one. */
  searched: string[];
  /** False when nothing was given and no place of the search holds a file. */
  found: boolean;
}

export interface LocateEnv {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
  exists?: (path: string) => boolean;
}

const nonEmpty = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v : undefined);

/** The XDG base directory `name` (XDG_CONFIG_HOME, XDG_STATE_HOME): the variable when absolute, else the default under home. */
function xdgDir(env: NodeJS.ProcessEnv, name: 'XDG_CONFIG_HOME' | 'XDG_STATE_HOME', fallback: string, home: string): string {
  const v = nonEmpty(env[name]);
  // The XDG spec: a relative path in these variables is invalid and is ignored.
  return v && v.startsWith('/') ? v : join(home, fallback);
}

export function locateConfig(explicit: string | undefined, opts: LocateEnv = {}): ConfigLocation {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? safeHome(env);
  const exists = opts.exists ?? ((p: string) => existsSync(p) && statSync(p).isFile());
  // `--config ''` (an unset variable in a script) is a mistake, not "search as usual": the search could find another file.
  if (explicit !== undefined && !nonEmpty(explicit)) {
    throw new UsageError('--config is empty: give the config file (or leave --config out to use $QUANTUM_ROLL_CONFIG and the search)');
  }
  if (nonEmpty(explicit)) {
    const file = resolve(cwd, explicit!);
    return { file, source: '--config', searched: [file], found: exists(file) };
  }
  const fromEnv = nonEmpty(env.QUANTUM_ROLL_CONFIG);
  if (fromEnv) {
    const file = resolve(cwd, fromEnv);
    return { file, source: '$QUANTUM_ROLL_CONFIG', searched: [file], found: exists(file) };
  }
  const candidates: Array<[ConfigSource, string]> = [
    ['./quantum-roll.yaml', resolve(cwd, DEFAULT_CONFIG_FILE)],
    ['$XDG_CONFIG_HOME', join(xdgDir(env, 'XDG_CONFIG_HOME', '.config', home), 'quantum-roll', 'config.yaml')],
    ['/etc', '/etc/quantum-roll/config.yaml'],
  ];
  const searched: string[] = [];
  for (const [source, file] of candidates) {
    searched.push(file);
    if (exists(file)) return { file, source, searched, found: true };
  }
  return { file: candidates[0]![1], source: './quantum-roll.yaml', searched, found: false };
}

function safeHome(env: NodeJS.ProcessEnv): string {
  const h = nonEmpty(env.HOME);
  if (h) return h;
  try {
    return homedir();
  } catch {
    return '/';
  }
}

/** A directory we may create files in: it exists and is writable, or its nearest existing ancestor is. */
export function writableDir(dir: string): boolean {
  let d = resolve(dir);
  for (;;) {
    if (existsSync(d)) {
      try {
        if (!statSync(d).isDirectory()) return false;
        accessSync(d, constants.W_OK | constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }
    const up = dirname(d);
    if (up === d) return false;
    d = up;
  }
}

export interface StateDirChoice {
  dir: string;
  /** Why this one: beside the config, or the XDG state dir because the config's dir is not writable. */
  reason: 'beside the config' | 'XDG state dir (the config directory is not writable)';
}

/** The default state dir (journal, run logs) for a config file; `--state-dir` overrides it at the call site. */
export function chooseStateDir(configFile: string, opts: { env?: NodeJS.ProcessEnv; home?: string; writable?: (dir: string) => boolean } = {}): StateDirChoice {
  const env = opts.env ?? process.env;
  const writable = opts.writable ?? writableDir;
  const beside = join(dirname(resolve(configFile)), '.quantum-roll');
  if (writable(beside)) return { dir: beside, reason: 'beside the config' };
  const home = opts.home ?? safeHome(env);
  return { dir: join(xdgDir(env, 'XDG_STATE_HOME', join('.local', 'state'), home), 'quantum-roll'), reason: 'XDG state dir (the config directory is not writable)' };
}

export function defaultStateDir(configFile: string, env: NodeJS.ProcessEnv = process.env): string {
  return chooseStateDir(configFile, { env }).dir;
}
