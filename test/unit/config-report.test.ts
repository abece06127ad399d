/**
 * Config errors all at once, with key paths and line numbers (issue 15 item 6), and
 * where the config and the state dir are found (item 7).
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigProblems, loadConfig, parseConfig } from '../../src/config/load.js';
import { chooseStateDir, locateConfig, writableDir } from '../../src/config/locate.js';
import { ConfigError, ExitCode } from '../../src/util/errors.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblems {
  try {
    parseConfig(text, '/etc/quantum-roll/config.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigProblems);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(ExitCode.usage);
    return err as ConfigProblems;
  }
  throw new Error('expected config problems');
}

describe('config errors: every problem in one report', () => {
  const yaml = [
    'control_plane:', //         1
    '  url: ftp://cp', //        2
    'lb:', //                    3
    '  adapter: http', //        4
    '  pool: mqtt', //           5
    'restart:', //               6
    '  command: []', //          7
    'quiesce:', //               8
    '  grace: 30 seconds', //    9
    '  extra: 1', //             10
    'timeouts: {ready: 5m, lb: fast}', // 11
  ].join('\n');

  it('lists each mistake with its key path and line, in file order', () => {
    const e = problemsOf(yaml);
    expect(e.problems.map((p) => [p.path, p.line])).toEqual([
      ['control_plane.url', 2],
      ['lb.url', 3],
      ['restart.command', 7],
      ['quiesce.grace', 9],
      ['quiesce.extra', 10],
      ['timeouts.lb', 11],
    ]);
    expect(e.keyPath).toBe('control_plane.url');
    expect(e.message).toMatch(/^\/etc\/quantum-roll\/config\.yaml: 6 problems\n/);
    expect(e.message).toContain('  line 7: restart.command: must be a non-empty argv array');
    expect(e.message).toContain('  line 10: quiesce.extra: unknown key');
    expect(e.details.evidence).toMatchObject({ config_file: '/etc/quantum-roll/config.yaml', problems: expect.arrayContaining([{ path: 'lb.url', line: 3, message: 'required with adapter http' }]) });
  });

  it('a single problem reads file:line: path: message', () => {
    const e = problemsOf('control_plane: {url: "https://cp"}\nrestart: {command: [x]}\nbogus: 1\n');
    expect(e.problems).toHaveLength(1);
    expect(e.message).toBe('/etc/quantum-roll/config.yaml:3: bogus: unknown key (see the configuration section of the contract)');
  });

  it('schema and access mistakes together: an unset token variable is listed beside a bad duration', () => {
    const e = problemsOf('control_plane:\n  url: https://cp\n  token_env: NOPE_TOKEN\nrestart: {command: [x], timeout: soon}\n');
    expect(e.problems.map((p) => [p.path, p.line])).toEqual([
      ['control_plane.token_env', 3],
      ['restart.timeout', 4],
    ]);
  });

  it('several access mistakes at once (token variable unset, plain http with a token elsewhere)', () => {
    const e = problemsOf(
      'control_plane: {url: "https://cp", token_env: A}\nlb: {adapter: http, url: "http://lb.internal", pool: p, token_env: B}\nrestart: {command: [x]}\n',
      { B: 'secret-token-b' },
    );
    expect(e.problems.map((p) => p.path)).toEqual(['control_plane.token_env', 'lb.url']);
    expect(e.message).not.toContain('secret-token-b');
  });

  it('JSON configs get line numbers too', () => {
    const e = problemsOf('{\n  "control_plane": {"url": "https://cp"},\n  "restart": {"command": ["x"]},\n  "quiesce": {"grace": 5}\n}\n');
    expect(e.problems).toEqual([{ path: 'quiesce.grace', line: 4, message: expect.stringMatching(/duration/) }]);
  });

  it('YAML syntax errors name their line', () => {
    const e = problemsOf('control_plane:\n  url: [https://cp\nrestart: {command: [x]}\n');
    expect(e.problems[0]!.line).toBeGreaterThanOrEqual(2);
    expect(e.problems[0]!.message).toMatch(/^not valid YAML or JSON: /);
  });

  it('a config that parses is still accepted as before', () => {
    const c = parseConfig('control_plane: {url: "https://cp"}\nrestart: {command: [x]}\n', '/x/quantum-roll.yaml', {});
    expect(c.restart.timeout).toBe(120_000);
  });
});

describe('config search', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qr-locate-'));
  const has = (...files: string[]) => (p: string) => files.includes(p);

  it('--config, then $QUANTUM_ROLL_CONFIG, then ./quantum-roll.yaml, $XDG_CONFIG_HOME, /etc: the first found', () => {
    const env = { QUANTUM_ROLL_CONFIG: 'env.yaml', XDG_CONFIG_HOME: '/xdg' };
    const all = has('/w/given.yaml', '/w/env.yaml', '/w/quantum-roll.yaml', '/xdg/quantum-roll/config.yaml', '/etc/quantum-roll/config.yaml');
    expect(locateConfig('given.yaml', { env, cwd: '/w', exists: all })).toMatchObject({ file: '/w/given.yaml', source: '--config', found: true });
    expect(locateConfig(undefined, { env, cwd: '/w', exists: all })).toMatchObject({ file: '/w/env.yaml', source: '$QUANTUM_ROLL_CONFIG' });
    const noEnv = { XDG_CONFIG_HOME: '/xdg', QUANTUM_ROLL_CONFIG: '' };
    expect(locateConfig(undefined, { env: noEnv, cwd: '/w', exists: all })).toMatchObject({ file: '/w/quantum-roll.yaml', source: './quantum-roll.yaml' });
    expect(locateConfig(undefined, { env: noEnv, cwd: '/w', exists: has('/xdg/quantum-roll/config.yaml', '/etc/quantum-roll/config.yaml') })).toMatchObject({
      file: '/xdg/quantum-roll/config.yaml',
      source: '$XDG_CONFIG_HOME',
    });
    expect(locateConfig(undefined, { env: {}, cwd: '/w', home: '/home/op', exists: has('/home/op/.config/quantum-roll/config.yaml') }).file).toBe(
      '/home/op/.config/quantum-roll/config.yaml',
    );
    const etc = locateConfig(undefined, { env: noEnv, cwd: '/w', exists: has('/etc/quantum-roll/config.yaml') });
    expect(etc).toMatchObject({ file: '/etc/quantum-roll/config.yaml', source: '/etc', found: true });
    expect(etc.searched).toEqual(['/w/quantum-roll.yaml', '/xdg/quantum-roll/config.yaml', '/etc/quantum-roll/config.yaml']);
  });

  it('nothing found: the error lists every place looked at, exit 2', () => {
    const cwd = join(dir, 'empty');
    mkdirSync(cwd);
    const home = join(dir, 'home');
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      loadConfig(undefined, { HOME: home, QUANTUM_ROLL_CONFIG: '' });
      throw new Error('expected an error');
    } catch (err) {
      expect((err as ConfigError).exitCode).toBe(ExitCode.usage);
      expect((err as Error).message).toContain(`looked in ${join(cwd, 'quantum-roll.yaml')}, ${join(home, '.config/quantum-roll/config.yaml')}, /etc/quantum-roll/config.yaml`);
    } finally {
      process.chdir(prev);
    }
  });

  it('an error in a config found by the search says how it was found', () => {
    const xdg = join(dir, 'xdg');
    mkdirSync(join(xdg, 'quantum-roll'), { recursive: true });
    writeFileSync(join(xdg, 'quantum-roll', 'config.yaml'), 'control_plane: {url: "https://cp"}\n');
    const cwd = join(dir, 'elsewhere');
    mkdirSync(cwd);
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      expect(() => loadConfig(undefined, { XDG_CONFIG_HOME: xdg, QUANTUM_ROLL_CONFIG: '' })).toThrow(
        `${join(xdg, 'quantum-roll', 'config.yaml')}:1 (found via $XDG_CONFIG_HOME): restart: required key is missing`,
      );
    } finally {
      process.chdir(prev);
    }
  });
});

describe('state dir', () => {
  it('beside the config when writable, else $XDG_STATE_HOME/quantum-roll, else ~/.local/state/quantum-roll', () => {
    expect(chooseStateDir('/srv/qr/quantum-roll.yaml', { writable: () => true }).dir).toBe('/srv/qr/.quantum-roll');
    expect(chooseStateDir('/etc/quantum-roll/config.yaml', { writable: () => false, env: { XDG_STATE_HOME: '/var/xdg' } }).dir).toBe('/var/xdg/quantum-roll');
    expect(chooseStateDir('/etc/quantum-roll/config.yaml', { writable: () => false, env: {}, home: '/home/op' }).dir).toBe('/home/op/.local/state/quantum-roll');
  });

  it('writableDir: an existing writable dir, or a missing one under a writable parent; not a file, not a read-only dir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-statedir-'));
    expect(writableDir(dir)).toBe(true);
    expect(writableDir(join(dir, 'a', 'b'))).toBe(true);
    writeFileSync(join(dir, 'f'), '');
    expect(writableDir(join(dir, 'f'))).toBe(false);
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      expect(writableDir(join(ro, '.quantum-roll'))).toBe(false);
    }
  });
});
