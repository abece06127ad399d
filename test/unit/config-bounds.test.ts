/**
 * Issue 20, item 1: config mistakes are found when the config is loaded, each naming its
 * key path — durations bounded per key (positive where they bound a wait or a command,
 * `0s` where it means "do not wait", at most 2^31−1 ms everywhere), every `{placeholder}`
 * of every argv known, `server_reference` a host:port — and the command line's own
 * mistakes (`--config ''`, `--state-dir ''`, `--parallel 1e2`, `--pause 600h`) are usage
 * errors naming the option.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigProblems, parseConfig } from '../../src/config/load.js';
import { locateConfig } from '../../src/config/locate.js';
import { LB_EXEC_PLACEHOLDERS, MAX_DURATION_MS, RESTART_PLACEHOLDERS } from '../../src/config/schema.js';
import { restartArgv } from '../../src/steps/restart-command.js';
import { substitute } from '../../src/util/argv-text.js';
import { parseParallel, parsePause } from '../../src/commands/restart.js';
import { stateDirOf } from '../../src/commands/session.js';
import { ExitCode, UsageError } from '../../src/util/errors.js';

type Raw = Record<string, any>;
const base = (): Raw => ({
  control_plane: { url: 'http://127.0.0.1:7443' },
  restart: { command: ['ssh', '{node}', 'sudo', 'systemctl', 'restart', 'quantum'] },
});
const parse = (raw: Raw) => parseConfig(stringify(raw), '/tmp/qr-bounds/quantum-roll.yaml', {});

/** The problems of a config that must not load: [key path, message] each. */
function problems(raw: Raw): Array<[string, string]> {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigProblems);
    expect((err as ConfigProblems).exitCode).toBe(ExitCode.usage);
    return (err as ConfigProblems).problems.map((p) => [p.path, p.message]);
  }
  throw new Error('expected the config to be refused');
}

/** Sets `value` at the dotted `key` of a fresh base config. */
function withKey(key: string, value: unknown, raw: Raw = base()): Raw {
  const parts = key.split('.');
  let o = raw;
  for (const p of parts.slice(0, -1)) o = o[p] ??= {};
  o[parts.at(-1)!] = value;
  return raw;
}

const BOUNDS = ['restart.timeout', 'timeouts.leader_transfer', 'timeouts.ready', 'timeouts.lb', 'lease.ttl', 'timeouts.ready_max', 'control_plane.request_timeout'];
const MAY_BE_ZERO = ['quiesce.grace', 'timeouts.recovery'];

describe('durations, bounded per key', () => {
  it.each(BOUNDS)('%s: 0s and 600h are refused naming the key; 1ms and 24 days load', (key) => {
    for (const bad of ['0s', '0', '0ms', '600h', '597h']) {
      const p = problems(withKey(key, bad));
      expect(p, `${key}: ${bad}`).toHaveLength(1);
      expect(p[0]![0]).toBe(key);
      expect(p[0]![1]).toMatch(bad.startsWith('0') ? /must be more than 0/ : /longer than 24 days \(2\^31−1 ms/);
    }
    expect(() => parse(withKey(key, '1ms'))).not.toThrow();
    expect(() => parse(withKey(key, `${MAX_DURATION_MS}ms`))).not.toThrow();
    expect(problems(withKey(key, `${MAX_DURATION_MS + 1}ms`))[0]![0]).toBe(key);
  });

  it.each(MAY_BE_ZERO)('%s: 0s means "do not wait" and loads; 600h is refused naming the key', (key) => {
    const c = parse(withKey(key, '0s'));
    expect(key.split('.').reduce((o: any, k) => o[k], c)).toBe(0);
    expect(problems(withKey(key, '600h'))).toEqual([[key, expect.stringMatching(/longer than 24 days/)]]);
  });

  it('every problem at once, each with its key path', () => {
    const raw = withKey('lease.ttl', '0s', withKey('timeouts.lb', '30d', withKey('restart.timeout', '600h')));
    expect(problems(raw).map(([k]) => k).sort()).toEqual(['lease.ttl', 'restart.timeout', 'timeouts.lb']);
  });
});

describe('argv placeholders', () => {
  it('restart.command: {nodeid} is refused at load, naming the element and the known placeholders', () => {
    const p = problems(withKey('restart.command', ['ssh', '{nodeid}', 'sudo', 'systemctl', 'restart', 'quantum']));
    expect(p).toEqual([['restart.command.1', expect.stringContaining('unknown placeholder {nodeid}')]]);
    expect(p[0]![1]).toContain('{node} {member} {admin_url}');
  });

  it('restart.command: {node}, {member}, {admin_url} inside arguments load', () => {
    expect(() => parse(withKey('restart.command', ['curl', '-X', 'POST', '{admin_url}/restart?m={member}', 'deploy@{node}']))).not.toThrow();
  });

  it('the exec adapter: {admin_url} is not one of its placeholders; a typo in any of its three argvs is named', () => {
    const lb = (over: Raw) => ({ adapter: 'exec', drain: ['lbctl', 'drain', '{member}'], enable: ['lbctl', 'enable', '{member}'], status: ['lbctl', 'status', '{node}'], ...over });
    expect(() => parse(withKey('lb', lb({})))).not.toThrow();
    expect(problems(withKey('lb', lb({ drain: ['lbctl', 'drain', '{admin_url}'] })))).toEqual([['lb.drain.2', expect.stringContaining('{admin_url}')]]);
    expect(problems(withKey('lb', lb({ enable: ['lbctl', '--pool={pool}', '{member}'] })))).toEqual([['lb.enable.1', expect.stringContaining('{pool}')]]);
    expect(problems(withKey('lb', lb({ status: ['lbctl', 'status', '{Node}', '{membr}'] })))).toEqual([['lb.status.3', expect.stringContaining('{membr}')]]);
  });

  it('what the loader accepts is what the code substitutes: every known placeholder is replaced at run time', () => {
    const all = (names: readonly string[]) => ['prog', ...names.map((n) => `{${n}}`)];
    expect(() => parse(withKey('restart.command', all(RESTART_PLACEHOLDERS)))).not.toThrow();
    const node = { id: 'node-3', rack: 'r1', adminUrl: 'https://node-3.internal:9443', lbMember: 'node3' };
    expect(restartArgv(all(RESTART_PLACEHOLDERS), node)).toEqual(['prog', 'node-3', 'node3', 'https://node-3.internal:9443']);
    // The exec adapter substitutes {node} and {member} (adapters/lb/exec.ts).
    expect(substitute(all(LB_EXEC_PLACEHOLDERS), { node: 'node-3', member: 'node3' })).toEqual(['prog', 'node-3', 'node3']);
  });

  it('an empty program is refused at load', () => {
    expect(problems(withKey('restart.command', ['', '{node}']))).toEqual([['restart.command.0', expect.stringContaining('program')]]);
  });
});

describe('server_reference', () => {
  it('is validated as host:port like canary.front_door', () => {
    const disconnect = (ref: string) => withKey('quiesce.disconnect', { reason_code: 156, server_reference: ref });
    expect(() => parse(disconnect('mqtt-b.example.net:8883'))).not.toThrow();
    expect(() => parse(disconnect('[::1]:1883'))).not.toThrow();
    for (const bad of ['mqtt-b.example.net', 'mqtt://b:1883', 'b:99999', 'b: 1883']) {
      expect(problems(disconnect(bad)), bad).toEqual([['quiesce.disconnect.server_reference', expect.stringContaining('host:port')]]);
    }
  });
});

describe('command-line values', () => {
  it("--config '' is a usage error, not the search", () => {
    for (const v of ['', '  ']) {
      expect(() => locateConfig(v, { env: {}, cwd: '/tmp', exists: () => true })).toThrow(UsageError);
      expect(() => locateConfig(v, { env: {}, cwd: '/tmp', exists: () => true })).toThrow(/--config is empty/);
    }
    expect(locateConfig(undefined, { env: {}, cwd: '/tmp', home: '/nonexistent', exists: (p) => p === '/tmp/quantum-roll.yaml' }).file).toBe('/tmp/quantum-roll.yaml');
  });

  it("--state-dir '' is a usage error, not the working directory", () => {
    expect(() => stateDirOf({ stateDir: '' }, '/tmp/x/quantum-roll.yaml')).toThrow(/--state-dir is empty/);
    expect(stateDirOf({ stateDir: 'st' }, '/tmp/x/quantum-roll.yaml')).toBe(`${process.cwd()}/st`);
  });

  it('--parallel takes whole numbers as written, naming the option otherwise', () => {
    expect(parseParallel('3')).toBe(3);
    expect(parseParallel('12')).toBe(12);
    expect(parseParallel('auto')).toBe('auto');
    expect(parseParallel(undefined)).toBe(1);
    for (const bad of ['1e2', '2.0', ' 3', '3 ', '0', '-1', '03', '0x10', '', 'Infinity', '99999999999999999999']) {
      expect(() => parseParallel(bad), JSON.stringify(bad)).toThrow(UsageError);
      expect(() => parseParallel(bad)).toThrow(/--parallel/);
    }
  });

  it('--pause: 0s allowed, at most 2^31−1 ms', () => {
    expect(parsePause('0s')).toBe(0);
    expect(parsePause('30s')).toBe(30_000);
    expect(parsePause(undefined)).toBe(0);
    expect(() => parsePause('600h')).toThrow(/--pause "600h" is longer than 24 days/);
    expect(() => parsePause('soon')).toThrow(/--pause must be a duration/);
  });
});
