/**
 * run-argv and commands that daemonize: the command ends when its own process exits
 * (its exit code decides), not when the last inherited pipe closes; what it left
 * running after a normal exit is left alone; a timeout still kills its whole process
 * group, but never a daemon that left the group (setsid).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandError, runArgv } from '../../src/util/run-argv.js';
import { errorOf } from '../support/expect.js';

/** Alive and not a zombie (a killed orphan may wait to be reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

let dir: string;
const pids: number[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'qr-runargv-'));
});
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

/** The pid a command wrote to `name` (it is killed after the test whatever happens). */
async function pidIn(name: string): Promise<number> {
  const pid = Number((await readFile(path.join(dir, name), 'utf8')).trim());
  expect(pid).toBeGreaterThan(1);
  pids.push(pid);
  return pid;
}

describe('run-argv: a command whose child keeps the inherited pipes open', () => {
  it('ends at the exit of the command, keeps its output, and leaves the child running', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const r = await runArgv(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; echo started; echo on-stderr >&2`], { timeoutMs: 60_000, log, label: 'restart command' });
    const child = await pidIn('child.pid');
    // Resolved while the child still holds stdout and stderr: it did not wait for the pipes.
    expect(alive(child)).toBe(true);
    expect(r.stdout).toBe('started\n');
    expect(r.stderr).toBe('on-stderr\n');
    expect(r.outputLeftOpen).toBe(true);
    expect(lines.some((l) => String(l.msg).startsWith('restart command exited; a process it left running still holds its output'))).toBe(true);
  });

  it('a non-zero exit with a lingering child still fails with its exit code and output, and the child is left alone', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const e = await errorOf(
      runArgv(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; echo "init script: failed to start" >&2; exit 3`], { timeoutMs: 60_000, label: 'restart command' }),
    );
    const child = await pidIn('child.pid');
    expect(e).toBeInstanceOf(CommandError);
    const ce = e as CommandError;
    expect(ce.status).toBe(3);
    expect(ce.timedOut).toBe(false);
    expect(ce.stderrTail).toBe('init script: failed to start');
    expect(ce.message).toMatch(/^restart command "sh -c .*" exited with code 3; stderr:\ninit script: failed to start$/);
    expect(alive(child)).toBe(true);
  });

  it('a command that closes its pipes at exit reports none left open', async () => {
    const r = await runArgv(['sh', '-c', 'echo one; echo two >&2; exit 0'], { timeoutMs: 60_000 });
    expect(r).toMatchObject({ stdout: 'one\n', stderr: 'two\n', outputLeftOpen: false });
    // A child that redirected its output away does not hold the pipes either.
    const pidFile = path.join(dir, 'quiet.pid');
    const q = await runArgv(['sh', '-c', `sleep 60 >/dev/null 2>&1 & echo $! > ${pidFile}; echo ok`], { timeoutMs: 60_000 });
    const quiet = await pidIn('quiet.pid');
    expect(q).toMatchObject({ stdout: 'ok\n', outputLeftOpen: false });
    expect(alive(quiet)).toBe(true);
  });

  it('on abort (the same group kill as restart.timeout) kills its own process group, a `sleep &` child too, but not a daemon that left the group with setsid', async () => {
    const inGroup = path.join(dir, 'group.pid');
    const daemon = path.join(dir, 'daemon.pid');
    const ac = new AbortController();
    const run = runArgv(['sh', '-c', `sleep 60 & echo $! > ${inGroup}; setsid sleep 60 & echo $! > ${daemon}; sleep 60`], {
      timeoutMs: 60_000,
      signal: ac.signal,
      label: 'restart command',
    });
    // Stop it only once both children exist, so the kill has something to find, and once the
    // daemon has really left the group: `$!` is written at the fork, before setsid(2) runs in
    // the child (on a loaded machine a kill in between would take the daemon with the group).
    const leftGroup = async (pidFile: string): Promise<boolean> => {
      const pid = Number((await readFile(pidFile, 'utf8')).trim());
      if (!pid) return false;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      return pgrp === pid;
    };
    const end = Date.now() + 20_000;
    for (;;) {
      const both = await Promise.all([readFile(inGroup, 'utf8'), leftGroup(daemon)]).then(([g, d]) => g.trim() !== '' && d).catch(() => false);
      if (both) break;
      if (Date.now() > end) throw new Error('the command never started its children');
      await new Promise((r) => setTimeout(r, 10));
    }
    ac.abort(new Error('interrupted by operator'));
    await expect(run).rejects.toThrow('interrupted by operator');
    const groupChild = await pidIn('group.pid');
    const daemonPid = await pidIn('daemon.pid');
    expect(await gone(groupChild), "the background child in the command's group is killed").toBe(true);
    expect(alive(daemonPid), 'the setsid daemon is left alone').toBe(true);
  });

  it('on restart.timeout the command is killed and reported as timed out, even though a setsid daemon keeps its pipes', async () => {
    const daemon = path.join(dir, 'daemon.pid');
    const e = await errorOf(runArgv(['sh', '-c', `setsid sleep 60 & echo $! > ${daemon}; sleep 60`], { timeoutMs: 500, label: 'restart command' }));
    await pidIn('daemon.pid').catch(() => undefined); // killed after the test when it got that far
    expect(e).toBeInstanceOf(CommandError);
    expect((e as CommandError).timedOut).toBe(true);
    expect(e.message).toMatch(/^restart command "sh -c .*" timed out after 500 ms and was killed$/);
  });

  it('the exit code decides even when the output never closes: a signal-killed command is a failure', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const e = await errorOf(runArgv(['sh', '-c', `sleep 60 & echo $! > ${pidFile}; kill -KILL $$`], { timeoutMs: 60_000, label: 'lb.drain' }));
    await pidIn('child.pid');
    expect(e.message).toMatch(/^lb\.drain "sh -c .*" was killed by SIGKILL$/);
  });
});
