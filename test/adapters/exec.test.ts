import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecLbAdapter } from '../../src/adapters/lb/exec.js';
import { CommandError, displayArgv, runArgv, substitute } from '../../src/util/run-argv.js';
import type { LbDeps, LbTarget } from '../../src/adapters/lb/types.js';
import { UsageError } from '../../src/util/errors.js';
import { errorOf } from '../support/expect.js';

const FIX = fileURLToPath(new URL('../fixtures/exec-lb/', import.meta.url));
const fx = (name: string) => path.join(FIX, name);

function capturingDeps(): { deps: LbDeps; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void out.push(s) });
  return {
    deps: { log, runtimeFor: () => { throw new Error('not used'); } },
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const target: LbTarget = { node: 'node-3', member: 'node3', adminUrl: 'https://node-3.internal:9443' };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'qr-exec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exec LB adapter', () => {
  const config = () => ({
    drain: [fx('set-state.sh'), dir, '--node={node}', '{member}', 'draining'],
    enable: [fx('set-state.sh'), dir, '--node={node}', '{member}', 'enabled'],
    status: [fx('status.sh'), dir, '{member}'],
  });

  it('drain/enable run the commands with {node} and {member} substituted; status reads the LB state', async () => {
    const { deps, lines } = capturingDeps();
    const a = new ExecLbAdapter(config(), deps);
    expect(a.endpoint).toBe(`${fx('status.sh')} ${dir} {member}`);
    expect(await a.status(target)).toMatchObject({ adminState: 'enabled', health: 'up', activeConnections: 7 });

    await a.drain(target);
    expect(await readFile(path.join(dir, 'node3.state'), 'utf8')).toBe('draining\n');
    expect(await readFile(path.join(dir, 'node3.node'), 'utf8')).toBe('node-3\n');
    const s = await a.status(target);
    expect(s).toMatchObject({ adminState: 'draining', health: 'up' });
    expect(s.detail).toContain('"admin_state": "draining"');

    await writeFile(path.join(dir, 'node3.health'), 'down\n');
    await a.enable(target);
    expect(await a.status(target)).toMatchObject({ adminState: 'enabled', health: 'down' });

    // stdout and stderr of drain/enable are logged at debug.
    const ran = lines().filter((l) => l.label === 'lb.drain');
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ level: 20, stdout: 'set node3 (node-3) to draining\n', stderr: 'audit: node3 -> draining\n', exitCode: 0 });
  });

  it('status output that is not JSON is an error quoting what was printed', async () => {
    const a = new ExecLbAdapter({ ...config(), status: [fx('garbage-status.sh'), '{member}'] }, capturingDeps().deps);
    const e = await errorOf(a.status(target));
    expect(e.message).toBe(
      `lb.status "${fx('garbage-status.sh')} node3" did not print one JSON object on stdout; it printed "member node3 looks fine to me\\n<html>not json</html>"`,
    );
  });

  it('status JSON of the wrong shape is an error naming the bad fields', async () => {
    const a = new ExecLbAdapter({ ...config(), status: [fx('bad-shape-status.sh')] }, capturingDeps().deps);
    const e = await errorOf(a.status(target));
    expect(e.message).toContain(`lb.status "${fx('bad-shape-status.sh')}" printed "{\\"admin_state\\": \\"on\\", \\"health\\": \\"green\\"}"`);
    expect(e.message).toMatch(/admin_state: .*; health: /);
  });

  it('a long garbage output is quoted truncated', async () => {
    const a = new ExecLbAdapter({ ...config(), status: ['node', '-e', 'process.stdout.write("x".repeat(5000))'] }, capturingDeps().deps);
    const e = await errorOf(a.status(target));
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toContain('xxx…"');
  });

  it('a non-zero exit is an error naming the command, the exit code and the end of stderr', async () => {
    const a = new ExecLbAdapter({ ...config(), drain: [fx('exit3.sh'), '{member}'] }, capturingDeps().deps);
    const e = await errorOf(a.drain(target));
    expect(e).toBeInstanceOf(CommandError);
    expect(e.message).toBe(
      `lb.drain "${fx('exit3.sh')} node3" exited with code 3; stderr:\nstarting for node3\nconnecting to lb.internal\nerror: member node3 not found in pool mqtt`,
    );
    expect((e as CommandError).status).toBe(3);
    expect(e.details.endpoint).toBe(`${fx('exit3.sh')} node3`);
  });

  it('refuses a placeholder value that is not a plain name, before running anything', async () => {
    const a = new ExecLbAdapter(config(), capturingDeps().deps);
    const e = await errorOf(a.drain({ ...target, member: 'node3;rm -rf /' }));
    expect(e.message).toBe('lb.drain: refusing to substitute {member} = "node3;rm -rf /": it must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ (nothing was run)');
    await expect(readFile(path.join(dir, 'node3;rm -rf /.state'))).rejects.toThrow();
    await expect(a.status({ ...target, node: '-rf' })).rejects.toThrow('{node} = "-rf"');
  });

  it('a missing command and a deadline are reported clearly', async () => {
    const a = new ExecLbAdapter({ ...config(), enable: ['/nonexistent/lb-enable', '{member}'], drain: [fx('slow.sh')] }, capturingDeps().deps);
    const e1 = await errorOf(a.enable(target));
    expect(e1.message).toMatch(/^lb\.enable "\/nonexistent\/lb-enable node3" could not be started: ENOENT/);
    const e2 = await errorOf(a.drain(target, { deadline: Date.now() + 300 }));
    expect(e2.message).toMatch(/^lb\.drain ".*slow\.sh" timed out after \d+ ms and was killed/);
    expect(Number(/timed out after (\d+) ms/.exec(e2.message)?.[1]), 'bounded by the deadline, not by lb.timeout').toBeLessThanOrEqual(300);
  });
});

describe('run-argv helper', () => {
  it('substitutes inside single arguments, never splitting or interpreting them', async () => {
    const argv = substitute(
      [fx('args.mjs'), '--url={admin_url}', '{node}', 'literal {not a placeholder}', '$(whoami)', '{member}.{node}'],
      { node: 'node-3', member: 'node3', admin_url: 'https://node-3.internal:9443/a b;c' },
      { plain: ['node', 'member'], label: 'restart.command' },
    );
    const { stdout } = await runArgv(argv, { timeoutMs: 10_000 });
    expect(JSON.parse(stdout)).toEqual(['--url=https://node-3.internal:9443/a b;c', 'node-3', 'literal {not a placeholder}', '$(whoami)', 'node3.node-3']);
  });

  it('only the listed placeholders must be plain names; unknown placeholders are config errors', () => {
    expect(() => substitute(['x', '{admin_url}'], { admin_url: 'https://a/b?c=d' }, { plain: ['node'] })).not.toThrow();
    expect(() => substitute(['x', '{admin_url}'], { admin_url: 'https://a/b' }, { plain: ['admin_url'] })).toThrow(/refusing to substitute \{admin_url\}/);
    expect(() => substitute(['x', '{nod}'], { node: 'n1' }, { label: 'lb.drain' })).toThrow(UsageError);
    expect(() => substitute(['x', '{nod}'], { node: 'n1' }, { label: 'lb.drain' })).toThrow('lb.drain: unknown placeholder {nod} in argument "{nod}" (known: {node})');
    expect(() => substitute(['x', '{node}'], { node: '' }, { plain: ['node'] })).toThrow(/refusing/);
    expect(() => substitute(['x', '{node}'], { node: 'a'.repeat(64) }, { plain: ['node'] })).toThrow(/refusing/);
    expect(() => substitute([], {})).toThrow(UsageError);
  });

  it('kills the whole process group on timeout and on abort', async () => {
    const pidFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'qr-slow-')), 'child.pid');
    await expect(runArgv([fx('slow.sh'), pidFile], { timeoutMs: 200, label: 'restart.command' })).rejects.toThrow(/timed out after 200 ms/);
    // The script's own child (holding stdout) went with it: gone, or a zombie not yet reaped.
    const child = Number(await readFile(pidFile, 'utf8'));
    const state = await readFile(`/proc/${child}/stat`, 'utf8').then((t) => t.slice(t.lastIndexOf(')') + 2, t.lastIndexOf(')') + 3), () => 'gone');
    expect(['gone', 'Z', 'X'], `child ${child} state ${state}`).toContain(state);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted by operator')), 100);
    await expect(runArgv([fx('slow.sh')], { timeoutMs: 10_000, signal: ac.signal })).rejects.toThrow('interrupted by operator');
  });

  it('keeps the configured token variables from the child, and only those', async () => {
    process.env.QR_TEST_SECRET_TOKEN = 'sekrit-123';
    process.env.QR_TEST_PLAIN = 'visible';
    try {
      const show = [process.execPath, '-e', 'console.log(JSON.stringify([process.env.QR_TEST_SECRET_TOKEN ?? null, process.env.QR_TEST_PLAIN ?? null]))'];
      const hidden = await runArgv(show, { timeoutMs: 10_000, withoutEnv: ['QR_TEST_SECRET_TOKEN'] });
      expect(JSON.parse(hidden.stdout)).toEqual([null, 'visible']);
      const inherited = await runArgv(show, { timeoutMs: 10_000 });
      expect(JSON.parse(inherited.stdout)).toEqual(['sekrit-123', 'visible']);
    } finally {
      delete process.env.QR_TEST_SECRET_TOKEN;
      delete process.env.QR_TEST_PLAIN;
    }
  });

  it('passes extra environment on top of the inherited one', async () => {
    const { stdout } = await runArgv(['sh', '-c', 'echo "$QR_X:${PATH:+path}"'], { timeoutMs: 5_000, env: { QR_X: 'yes' } });
    expect(stdout).toBe('yes:path\n');
  });

  it('displays argv as the operator would type it', () => {
    expect(displayArgv(['ssh', 'node-3', 'sudo systemctl restart', "it's"])).toBe(`ssh node-3 'sudo systemctl restart' 'it'\\''s'`);
  });
});
