/**
 * A journal that cannot be written stops the run at once (no change after the failed
 * write; the error names the path and the OS reason), and a journal that cannot be
 * created changes nothing at all. Real file systems: a 64 KiB tmpfs filled while the
 * run is held in quiesce (a parked call), and a read-only bind mount. Needs root and
 * mount(2); skipped with the reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changing, now, spawnCli, startCluster, toResult, type TestCluster } from '../support/cli.js';
import { eventuallyInService, leaseHolder, nodeView } from '../support/inspect.js';
import { on, parkThrough, unpark } from '../support/park.js';

function canMount(): string | undefined {
  const d = mkdtempSync(join(tmpdir(), 'qr-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'pipe' });
    execFileSync('umount', [d], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `mount is not permitted here (${(err as Error).message.split('\n')[0]})`;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
const why = canMount();
if (why) console.warn(`journal-disk tests SKIPPED: ${why}`);

(why ? describe.skip : describe)('a journal that cannot be written', () => {
  let c: TestCluster;
  const mounts: string[] = [];
  const mountDir = (args: string[]) => {
    const d = mkdtempSync(join(tmpdir(), 'qr-state-'));
    execFileSync('mount', [...args, d], { stdio: 'pipe' });
    mounts.push(d);
    return d;
  };
  beforeAll(async () => {
    c = await startCluster();
  }, 120_000);
  afterAll(async () => {
    for (const d of mounts.reverse()) {
      try {
        execFileSync('umount', ['-l', d], { stdio: 'pipe' });
      } catch {
        // already unmounted
      }
      rmSync(d, { recursive: true, force: true });
    }
    await c?.stop();
  });
  const cli = (args: string[]) => spawnCli([...args, '--config', c.config, '--json'], { cwd: c.dir });

  it('a state dir that fills up mid-run: the run stops at the failed write, nothing changes after it (ENOSPC, path named)', async () => {
    const state = mountDir(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs']);
    const p = cli(['restart', 'node-2', '--yes', '--state-dir', state]);
    // Held on quiesce's first read: drained and out of the LB, the journal written so far.
    await parkThrough(c, [on.drainFlag('node-2'), on.readyz('node-2')], p);
    // Fill the file system (the write that fills it fails with ENOSPC itself).
    try {
      writeFileSync(join(state, 'filler'), Buffer.alloc(128 * 1024));
    } catch {
      // full
    }
    const t = now();
    await unpark(c);
    const r = toResult(await p);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(1);
    const err = (r.json as any).error;
    expect(err.message).toContain(join(state, 'journal.json'));
    expect(err.message).toContain('ENOSPC');
    expect(err.node).toBe('node-2');
    // After the failed write: no change but the lease's release.
    const after = changing(await c.callsSince(t)).filter((x) => !(x.system === 'cp' && x.method === 'DELETE' && x.path.startsWith('/v1/leases/')));
    expect(after).toEqual([]);
    expect((await c.sim.stats()).restarts['node-2'] ?? 0).toBe(0);
    expect(await leaseHolder(c)).toBeNull();
    // Left drained and out of the LB, as the last journalled state says.
    const v = await nodeView(c, 'node-2');
    expect(v.draining).toBe(true);
    expect(v.adminState).not.toBe('enabled');
    const u = toResult(await cli(['undrain', 'node-2', '--yes', '--state-dir', c.dir + '/.qr-undrain']));
    expect(u.code, u.stdout).toBe(0);
    expect(await eventuallyInService(c, 'node-2')).toBe(true);
  }, 90_000);

  it('a read-only state dir: the journal cannot be created, nothing changes at all (EROFS), not even the lease', async () => {
    const state = mountDir(['--bind', mkdtempSync(join(tmpdir(), 'qr-src-'))]);
    execFileSync('mount', ['-o', 'remount,ro,bind', state], { stdio: 'pipe' });
    const t = now();
    const r = toResult(await cli(['restart', 'node-3', '--yes', '--state-dir', state]));
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(1);
    const msg = (r.json as any).error.message as string;
    expect(msg).toContain(state);
    expect(msg).toContain('EROFS');
    expect(msg).toMatch(/Nothing was changed/);
    expect(changing(await c.callsSince(t))).toEqual([]);
    expect(await leaseHolder(c)).toBeNull();
  }, 60_000);
});
