/**
 * Resume never signals a stranger (issue 20, item 4): the journalled pid of an
 * interrupted run's restart command is signalled only while it is still that process
 * (its start time, journalled beside the pid, is the same). A reused pid — another
 * process at that pid, with another start time — is neither waited for nor killed.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type TestCluster } from '../support/cli.js';
import { drainedAndOut, eventually, eventuallyInService, finish, journalPath, leaseHolder, nodeView, readJournal, resetFaults, startCli, stepOf, untilOutput, useCluster, withConfig } from '../support/inspect.js';
import { processIdentity } from '../../src/util/proc-identity.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('resume and the journalled restart command pid', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('the journal keeps the restart command identity beside its pid; a reused pid (another process) is not killed, and resume finishes', async () => {
    await c.sim.setFaults({ restartHang: true });
    const r = await withConfig(
      c,
      (cfg) => (cfg.restart.timeout = '3s'),
      async () => {
        const p = startCli(c, ['restart', 'node-2', '--yes']);
        await eventually(async () => (await c.sim.events()).some((e) => e.event === 'restart_command' && e.node === 'node-2' && e.outcome === 'hang'));
        p.kill('SIGINT');
        await untilOutput(p, 'stderr', /SIGINT received: stopping at the next safe point/);
        p.kill('SIGINT'); // the hard exit: the restart step stays `running`, its command's pid journalled
        return finish(p);
      },
    );
    expect(r.code, r.stdout + r.stderr.slice(-2000)).toBe(130);
    const j = await readJournal(c);
    expect(stepOf(j, 'node-2')).toEqual(['restart', 'running']);
    const orphan = j.nodes['node-2'].restart_pid as number;
    expect(orphan).toBeGreaterThan(0);
    // Its identity (kernel boot id / start time) is journalled beside its pid. (The hard exit sends the command a SIGTERM: it may be gone already.)
    expect(j.nodes['node-2'].restart_pid_identity, 'its identity is journalled beside its pid').toMatch(/^[0-9a-f-]*\/\d+$/);

    // The orphaned command ends (as after a reboot or by hand); another process gets a pid of its own group.
    try {
      process.kill(-orphan, 'SIGKILL');
    } catch {
      // gone already
    }
    await eventually(async () => !alive(orphan));
    const stranger = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const strangerPid = stranger.pid!;
    try {
      // Journal the stranger's pid as the restart command's, with the identity the command had (not the stranger's),
      // started long ago: main at 9c3345a SIGKILLs its process group at once.
      j.nodes['node-2'].restart_pid = strangerPid;
      j.nodes['node-2'].restart_started_at = new Date(Date.now() - 3_600_000).toISOString();
      expect(processIdentity(strangerPid)).not.toBe(j.nodes['node-2'].restart_pid_identity);
      await writeFile(journalPath(c), JSON.stringify(j, null, 2));
      expect(drainedAndOut(await nodeView(c, 'node-2'))).toBe(true);

      await resetFaults(c);
      const resumed = await withConfig(c, (cfg) => (cfg.restart.timeout = '30s'), () => c.cli(['resume', '--yes']));
      expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
      expect(alive(strangerPid), 'the stranger at the reused pid is alive').toBe(true);
      expect(JSON.stringify((resumed.json as any).nodes['node-2'].warnings)).toMatch(new RegExp(`pid ${strangerPid} .*another process: not waited for, not signalled`));
      expect((await c.sim.stats()).restarts['node-2'], 'restarted once, by the resume').toBe(1);
      expect(await eventuallyInService(c, 'node-2')).toBe(true);
      expect(await leaseHolder(c)).toBeNull();
      expect((await readJournal(c)).nodes['node-2'].restart_pid_identity).toBeNull();
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});
