/**
 * A restart command that daemonizes (issue 13, item 2): its child keeps the inherited
 * stdout/stderr open for a minute, as an old init script behind `ssh host 'sudo
 * service quantum restart'` does. The restart step ends when the command exits (its
 * exit code decides) and the node's new boot_id shows, not when that child closes the
 * pipe; the child is left running. A command that exits non-zero with such a child
 * still fails the node with its exit code and its output.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cli.js';
import { drainedAndOut, eventuallyInService, expectStepFailure, finishWithResume, leaseHolder, nodeView, readJournal, withConfig } from '../support/inspect.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function kill(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('restart: a restart command whose child keeps stdout open', { timeout: 120_000 }, () => {
  let c: TestCluster;
  let simRestart: string[];
  beforeAll(async () => {
    c = await startCluster({ nodes: 3, racks: 3, prgs: 30, sessionsPerNode: 20, replayMs: 300 });
    let cmd: string[] = [];
    await c.patchConfig((cfg) => {
      cmd = cfg.restart.command as string[];
      // Long enough that waiting for the child's pipe (60 s) would show as a failure, not a pass.
      cfg.restart.timeout = '45s';
    });
    simRestart = cmd;
  }, 120_000);
  afterAll(async () => c?.stop());

  /** The simulator's own restart command, wrapped in `sh -c '… & …'` with a child holding stdout. */
  const wrapped = (after: string) => {
    const quoted = simRestart.map((a) => (a === '{node}' ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
    return ['sh', '-c', `${quoted} || exit 9; sleep 60 & echo $! > ${c.dir}/daemon-{node}.pid; ${after}`];
  };

  it('the node is done once its new boot_id shows; the child still runs afterwards and is left alone', async () => {
    let child: number | undefined;
    try {
      const before = await nodeView(c, 'node-2');
      const r = await withConfig(
        c,
        (cfg) => (cfg.restart.command = wrapped('echo "quantum restarted (daemon pid $!)"')),
        () => c.cli(['restart', 'node-2', '--yes']),
      );
      child = Number((await readFile(join(c.dir, 'daemon-node-2.pid'), 'utf8')).trim());
      expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
      const doc = r.json as any;
      expect(doc.ok).toBe(true);
      const steps = doc.nodes['node-2'].steps as any[];
      expect(steps.map((s) => s.step)).toEqual(['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck']);
      // The whole run, restart step included, finished while the child still holds the command's stdout.
      expect(alive(child), 'the child that kept stdout open is still running after the run').toBe(true);
      const j = await readJournal(c);
      expect(j.status).toBe('done');
      expect(j.nodes['node-2'].boot_id_after).not.toBe(before.bootId);
      const after = await nodeView(c, 'node-2');
      expect(after.bootId).toBe(j.nodes['node-2'].boot_id_after);
      expect(await eventuallyInService(c, 'node-2')).toBe(true);
      expect((await c.sim.stats()).restarts['node-2']).toBe(1);
      expect(await leaseHolder(c)).toBeNull();
    } finally {
      kill(child);
    }
  });

  it('a command that exits non-zero with a lingering child still fails the node with its exit code and output', async () => {
    let child: number | undefined;
    const failing = (cfg: Record<string, any>) => (cfg.restart.command = wrapped('echo "init script: quantum did not come up" >&2; exit 3'));
    try {
      await withConfig(c, failing, async () => {
        const r = await c.cli(['restart', 'node-3', '--yes']);
        child = Number((await readFile(join(c.dir, 'daemon-node-3.pid'), 'utf8')).trim());
        const err = expectStepFailure(r, 1, 'restart', 'node-3');
        expect(err.message).toMatch(/exited with code 3; stderr:\ninit script: quantum did not come up/);
        expect(err.evidence).toMatchObject({ exit_code: 3, timed_out: false });
        expect(drainedAndOut(await nodeView(c, 'node-3'))).toBe(true);
        expect(alive(child), "a failed command's lingering child is not killed either").toBe(true);
        // The simulator did restart it (the wrapper failed afterwards): resume, under the run's own config,
        // sees the new boot_id and finishes without running the command again.
        await finishWithResume(c);
      });
    } finally {
      kill(child);
    }
    expect((await c.sim.stats()).restarts['node-3']).toBe(1);
  });
});
