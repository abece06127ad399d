/**
 * Leadership comes back (invariant 10): after a node's postcheck, the PRGs it led
 * before its drain and still hosts as a healthy replica are led by it again. A
 * refusal (409) is a warning, never a failure; `leader_transfer.restore: false` turns
 * it off; a dry run lists what would move back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now, startCluster, type TestCluster } from '../support/cli.js';
import { finish, readJournal, resetFaults, startCli, withConfig } from '../support/inspect.js';
import { on, parkAt, unpark } from '../support/park.js';

async function ledPerNode(c: TestCluster): Promise<Map<string, number>> {
  const out = new Map<string, number>(c.sim.nodes.map((n) => [n.id, 0]));
  let cursor: string | null = null;
  do {
    const r = await fetch(`${c.sim.cpUrl}/v1/prgs?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { signal: AbortSignal.timeout(5_000) });
    const page = (await r.json()) as { items: Array<{ leader: string | null }>; next_cursor: string | null };
    for (const p of page.items) if (p.leader) out.set(p.leader, (out.get(p.leader) ?? 0) + 1);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

describe('leadership restored after the roll', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 6, racks: 3, prgs: 180 });
  }, 120_000);
  afterAll(async () => c?.stop());

  it('after restart --all of 6 nodes every node leads at least half of its pre-roll share', async () => {
    const before = await ledPerNode(c);
    for (const n of before.values()) expect(n).toBeGreaterThan(0);
    const r = await c.cli(['restart', '--all', '--yes']);
    expect(r.code, `${r.stdout.slice(0, 3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    const after = await ledPerNode(c);
    for (const [id, n] of before) expect(after.get(id), `${id} led ${n} before, ${after.get(id)} after`).toBeGreaterThanOrEqual(Math.ceil(n / 2));
    // The outcome says how many moved back, per node; the journal kept what each led before.
    const doc = r.json as any;
    const j = await readJournal(c);
    let total = 0;
    for (const [id] of before) {
      const lr = doc.nodes[id].leaders_restored;
      expect(lr.enabled).toBe(true);
      expect(lr.led_before).toBe(j.nodes[id].leaders_before.length);
      expect(lr.moved).toBeGreaterThan(0);
      total += lr.moved;
    }
    expect(total).toBeGreaterThan(0);
    // Moved back with {"to": node}: the simulator's record.
    const to = (await c.sim.calls()).filter((x) => x.method === 'POST' && /\/leader-transfer$/.test(x.path) && (x.body as any)?.to);
    expect(to.length).toBeGreaterThanOrEqual(total);
  }, 180_000);

  it('a dry run lists what would move back', async () => {
    const r = await c.cli(['plan', 'node-2']);
    expect(r.code, r.stdout).toBe(0);
    const n = (r.json as any).nodes['node-2'];
    expect(n.leaders_restored.enabled).toBe(true);
    expect(n.leaders_restored.planned).toBe(n.prgs_led_count);
    const post = n.steps.find((s: any) => s.step === 'postcheck');
    expect(post.summary).toMatch(/move leadership of \d+ PRG\(s\) back to node-2/);
    expect(post.actions.join(' ')).toContain('"to": "node-2"');
  }, 60_000);

  it('a 409 during restore is a warning with the count, exit 0', async () => {
    const t0 = now();
    const p = startCli(c, ['restart', 'node-3', '--yes']);
    // Held while the restart command runs: leadership already left node-3; from now on every transfer is refused.
    await parkAt(c, on.restartCommand('node-3'), p);
    await c.sim.setFaults({ noEligibleTarget: true });
    await unpark(c);
    const r = await finish(p);
    await resetFaults(c);
    expect(r.code, `${r.stdout.slice(0, 3000)}\n${r.stderr.slice(-2000)}`).toBe(0);
    const n = (r.json as any).nodes['node-3'];
    expect(n.status).toBe('done');
    expect(n.leaders_restored.refused).toBeGreaterThan(0);
    expect(n.leaders_restored.moved).toBe(0);
    expect(n.warnings.join('\n')).toMatch(new RegExp(`leadership of ${n.leaders_restored.refused} PRG\\(s\\) could not move back to node-3: refused by the CP \\(409\\)`));
    const refused = (await c.callsSince(t0)).filter((x) => x.method === 'POST' && (x.body as any)?.to === 'node-3' && x.status === 409);
    expect(refused.length).toBe(n.leaders_restored.refused);
  }, 60_000);

  it('leader_transfer.restore: false moves nothing back', async () => {
    await withConfig(
      c,
      (cfg) => (cfg.leader_transfer = { restore: false }),
      async () => {
        const t0 = now();
        const r = await c.cli(['restart', 'node-4', '--yes']);
        expect(r.code, r.stdout.slice(0, 2000)).toBe(0);
        expect((r.json as any).nodes['node-4'].leaders_restored.enabled).toBe(false);
        const to = (await c.callsSince(t0)).filter((x) => x.method === 'POST' && (x.body as any)?.to === 'node-4');
        expect(to).toEqual([]);
      },
    );
  }, 60_000);

  it('transfer-leaders --restore <node> moves back what the last run journalled', async () => {
    const before = (await ledPerNode(c)).get('node-5')!;
    expect(before).toBeGreaterThan(0);
    // A roll with the restore off leaves node-5 leading nothing; the operator gives it back afterwards.
    await withConfig(
      c,
      (cfg) => (cfg.leader_transfer = { restore: false }),
      async () => {
        const r = await c.cli(['restart', 'node-5', '--yes']);
        expect(r.code, r.stdout.slice(0, 2000)).toBe(0);
      },
    );
    expect((await ledPerNode(c)).get('node-5')).toBe(0);
    const back = await c.cli(['transfer-leaders', '--restore', 'node-5', '--yes']);
    expect(back.code, `${back.stdout.slice(0, 2000)}\n${back.stderr.slice(-1500)}`).toBe(0);
    expect((await ledPerNode(c)).get('node-5')).toBe(before);
  }, 60_000);
});
