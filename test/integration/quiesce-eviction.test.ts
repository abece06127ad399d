/**
 * Closed-loop eviction (issue 19) under real MQTT clients behind a real HAProxy: a cohort
 * first, then the rest in limited, replacing DISCONNECT requests, the restart only once
 * the cluster has taken the clients back; and a cohort that does not come back stops the
 * run (exit 1) before the rest of the node's clients are evicted.
 */
import { describe, expect, it } from 'vitest';
import { readSimJson } from '../../src/sim/index.js';
import { drainWindows, frontDoor, identifierFor, readCalls, runLoad, targetLabel } from '../../src/sim/load/index.js';
import { startCluster, type CliResult, type TestCluster } from '../support/cli.js';
import { adminBits } from '../support/haproxy.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface DisconnectPost {
  node: string;
  t: number;
  body: { reason_code: number; rate_per_s: number; limit?: number; server_reference?: string };
}
function disconnectPosts(c: TestCluster): DisconnectPost[] {
  return (readCalls(`${c.dir}/calls.ndjson`) ?? [])
    .filter((x: any) => x.method === 'POST' && x.path.startsWith('/v1/sessions/disconnect') && x.status === 202)
    .map((x: any) => ({ node: x.node, t: x.t, body: x.body }));
}

/** Runs `sim load` through the front door and a roll once the load is steady. */
async function rollUnderLoad<A>(c: TestCluster, clients: number, args: string[], giveUpShare = 0, afterRoll?: (r: CliResult) => Promise<A>) {
  const info = readSimJson(c.dir);
  const door = frontDoor(undefined, info);
  let roll: Promise<CliResult> | undefined;
  let rolled = false;
  let after: A | undefined;
  const { report } = await runLoad({
    clients,
    ratePerS: 100,
    targets: door.targets,
    identifier: identifierFor(door),
    giveUpShare,
    // clients that give up do so on a DISCONNECT's reason code: MQTT 5 only (3.1.1 links just close)
    ...(giveUpShare > 0 ? { mix: { v5: 1, v311: 0 } } : {}),
    onSteady: () => {
      // (afterRoll looks at the cluster while the clients are still connected)
      roll = c
        .cli(args)
        .then(async (r) => {
          after = await afterRoll?.(r);
          return r;
        })
        .finally(() => (rolled = true));
    },
    until: () => rolled,
    drainTimeoutMs: 60_000,
    drainWindows: (until) => {
      const lines = readCalls(`${c.dir}/calls.ndjson`);
      return lines ? drainWindows(lines, until) : null;
    },
  });
  return { report, r: await roll!, after, reference: targetLabel(door.targets[0]!) };
}

describe('closed-loop eviction under MQTT load through a real HAProxy', () => {
  it('restart --all under 50 clients: a cohort, then limited requests; 0 lost, every client back', { timeout: 300_000 }, async () => {
    const c = await startCluster({ nodes: 5, racks: 3, prgs: 60, replayMs: 300, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
    try {
      await c.patchConfig((cfg) => {
        // a loaded machine restarts a broker slowly: the generated config's bound, not the suite's 10 s
        cfg.timeouts = { ...cfg.timeouts, ready: '30s' };
        cfg.canary = { ...cfg.canary, timeout: '10s' };
        // the generated config's eviction, with a cohort of a fifth (at least 2)
        cfg.quiesce = { ...cfg.quiesce, disconnect: { ...cfg.quiesce.disconnect, cohort: { share: 0.2, min: 2 } } };
      });
      const { report, r } = await rollUnderLoad(c, 50, ['restart', '--all', '--parallel', 'auto', '--yes']);
      expect(r.code, r.stderr).toBe(0);
      expect(Object.values((await c.sim.stats()).restarts)).toEqual([1, 1, 1, 1, 1]);
      expect(report.messages.lost, JSON.stringify(report.lost_samples)).toBe(0);
      expect(report.messages.acked).toBeGreaterThan(0);
      expect(report.clients).toMatchObject({ total: 50, connected_at_end: 50, not_connected: [] });
      expect(report.reconnects.never_back).toBe(0);

      // the simulator's record: per node, the cohort's request (a limit), then the rest in
      // requests whose rate or limit differ from it
      const posts = disconnectPosts(c);
      const nodes = [...new Set(posts.map((p) => p.node))];
      expect(nodes.length).toBeGreaterThan(0);
      let changing = 0;
      for (const n of nodes) {
        const mine = posts.filter((p) => p.node === n);
        for (const p of mine) expect(p.body.limit, 'every request carries a limit').toEqual(expect.any(Number));
        const shapes = new Set(mine.map((p) => `${p.body.rate_per_s}/${p.body.limit}`));
        if (mine.length >= 2 && shapes.size >= 2) changing++;
      }
      expect(changing, JSON.stringify(posts)).toBeGreaterThan(0);

      // the run log says what was asked, the cohort's verdicts, and where the clients were
      const log = readFileSync(String(r.json!.log_file), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
      const cohorts = log.filter((e) => e.event === 'quiesce.cohort');
      expect(cohorts.length).toBe(nodes.length);
      for (const k of cohorts) expect(k).toMatchObject({ ok: true });
      const asked = log.filter((e) => e.event === 'quiesce.disconnect');
      expect(asked.length).toBe(posts.length);
      expect(asked.filter((e) => e.phase === 'cohort').length).toBe(nodes.length);
      // sampled while the nodes evicted (absorb samples exist only when the clients are slower than a sweep)
      const samples = log.filter((e) => e.event === 'sessions.sample');
      for (const n of nodes) expect(samples.some((e) => e.node === n && e.requested > 0)).toBe(true);
      // the canary is configured: the paced part of each eviction watched the front door's CONNACK time
      const door = log.filter((e) => e.event === 'canary.front_door_connect');
      expect(door.length, 'a CONNECT through the front door while evicting').toBeGreaterThan(0);
      for (const e of door) expect(e).toMatchObject({ connect_ms: expect.any(Number), timed_out: false });
    } finally {
      await c.stop();
    }
  });

  it('a cohort the cluster does not take back stops the run: exit 1, only the cohort evicted, the node drained and out of the LB', { timeout: 300_000 }, async () => {
    const c = await startCluster({ nodes: 3, racks: 3, prgs: 30, replayMs: 300, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
    try {
      await c.patchConfig((cfg) => {
        cfg.quiesce = { ...cfg.quiesce, disconnect: { ...cfg.quiesce.disconnect, cohort: { share: 0.1, min: 3, timeout: '3s' } } };
        cfg.canary = { ...cfg.canary, timeout: '10s' };
      });
      // every client stops for good after a DISCONNECT with a reason code or a refused CONNACK (all MQTT 5 here)
      const lb = parse(readFileSync(c.config, 'utf8')).lb as { socket: string; backends: string[] };
      // the node the run stopped at, while the clients are still connected
      const firstNode = async () => {
        const p = disconnectPosts(c)[0];
        if (!p) return null;
        const admin = c.sim.nodes.find((n) => n.id === p.node)!.adminUrl;
        const drain = (await (await fetch(`${admin}/v1/drain`)).json()) as { draining: boolean; active_sessions: number };
        return { node: p.node, drain, lbBits: await adminBits(lb.socket, lb.backends[0]!, p.node) };
      };
      const { report, r, after } = await rollUnderLoad(c, 30, ['restart', '--all', '--yes'], 1, firstNode);
      expect(r.code, r.stderr).toBe(1);
      expect((r.json as any).error?.step, r.stderr).toBe('quiesce');
      const posts = disconnectPosts(c);
      // only the cohort's request, on the first node
      expect(posts.length, JSON.stringify(posts)).toBe(1);
      const [p] = posts;
      expect(p!.body.limit).toBe(3);
      const err = (r.json as any).error;
      expect(err.node).toBe(p!.node);
      expect(err.message).toContain(p!.node);
      expect(err.message).toMatch(/cohort of 3 client\(s\)/);
      expect(err.message).toMatch(/, [0-2] came back/);
      expect(err.next).toContain('quantum-roll resume');
      // the rest of its clients stayed on it; it is left drained and out of the LB
      expect(after).toMatchObject({ node: p!.node, drain: { draining: true } });
      expect(after!.drain.active_sessions, 'the rest of its clients were not evicted').toBeGreaterThan(0);
      expect(after!.lbBits, 'out of the LB (HAProxy admin state)').not.toBe(0);
      expect(Object.values((await c.sim.stats()).restarts).every((n) => n === 0)).toBe(true);
      expect(report.messages.lost).toBe(0);
    } finally {
      await c.stop();
    }
  });
});
