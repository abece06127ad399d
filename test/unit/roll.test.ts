/** run/roll.ts with fake steps against the simulator's CP: wave order, stop between nodes, resume, failure, the lease. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { conflictGraph } from '../../src/cluster/waves.js';
import { loadConfig } from '../../src/config/load.js';
import { Journal } from '../../src/run/journal.js';
import { LEASE_NAME } from '../../src/run/lease.js';
import { newJournal, roll, type RollEnv, type RollPlan } from '../../src/run/roll.js';
import type { NodeTarget, StepContext } from '../../src/steps/context.js';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import { RefusedError, StepError } from '../../src/util/errors.js';
import { StopController } from '../../src/util/stop.js';
import { type FakeStep, fakeStep, recordingReporter } from '../support/fake-steps.js';
import { del, get, post, tempDir } from '../support/http.js';

let sim: SimHandle;
let nodes: NodeTarget[];
const leaseUrl = () => `${sim.cpUrl}/v1/leases/${LEASE_NAME}`;

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), virtualNodes: true, nodes: 6, racks: 3, prgs: 12, replayMs: 50, lbCheckIntervalMs: 100 });
  nodes = sim.nodes.map((n) => ({ id: n.id, rack: n.rack, adminUrl: n.adminUrl, lbMember: n.id }) as NodeTarget);
});
afterAll(async () => {
  await sim?.stop();
});
beforeEach(async () => {
  // Every test starts with the lease free (a test that took it as "someone else" gives it back).
  const held = await get(leaseUrl());
  expect(held.status).toBe(404);
});

/** The run's environment over the simulator's CP (a real client), with a journal in a fresh state dir. */
async function envFor(plan: RollPlan, o: { stop?: StopController; journal?: Journal } = {}) {
  const { config } = loadConfig(sim.configPath, {});
  const stateDir = await tempDir('qr-roll-');
  const reporter = recordingReporter();
  const base = {
    log: pino({ level: 'silent' }),
    cp: new ControlPlaneClient({ baseUrl: sim.cpUrl, retryBudgetMs: 2_000 }),
    lb: {} as RollEnv['lb'],
    runtimeFor: () => ({}) as ReturnType<RollEnv['runtimeFor']>,
    reporter,
    stop: o.stop ?? new StopController(),
    runId: `run-${Math.random().toString(36).slice(2, 8)}`,
    initiator: 'quantum-roll@test:1/roll',
    startedAt: Date.now(),
    config,
    options: { dryRun: false, allowOverload: false, force: false },
  };
  const journal = o.journal ?? newJournal({ ...base }, plan, stateDir);
  const env: RollEnv = { ...base, journal };
  return { env, reporter, stateDir, journal };
}

function planOf(waves: string[][]): RollPlan {
  const ids = new Set(waves.flat());
  return { command: 'restart', nodes: nodes.filter((n) => ids.has(n.id)), waves, pauseMs: 0, configFile: sim.configPath, options: {} };
}

/** What the CP says of the lease right now: its holder, or null when it is free. */
async function leaseHolder(): Promise<string | null> {
  const r = await get(leaseUrl());
  if (r.status === 404) return null;
  return (r.json as { holder: string }).holder;
}

/** `step` with `fn` awaited at the start of each run: a step that acts on the cluster (or reads it), then returns. */
function before(step: FakeStep, fn: (ctx: StepContext) => Promise<void>): FakeStep {
  const run = step.run;
  step.run = async (ctx) => {
    await fn(ctx);
    return run(ctx);
  };
  return step;
}

/**
 * The runbook's shape: a leading check, then changes. The check and the first change each read
 * from the CP who holds the lease as they run (awaited, so the read is answered inside the step).
 */
function runbook(o: { refuseOn?: string; failOn?: string; stopAfter?: string; stop?: StopController } = {}) {
  const seenAtCheck: Array<string | null> = [];
  const seenAtChange: Array<string | null> = [];
  const precheck = before(
    fakeStep('precheck', {
      kind: 'check',
      onRun: (ctx) => {
        if (ctx.node.id === o.refuseOn) throw new RefusedError(`${o.refuseOn} is not safe to restart`, { next: 'fix it, then run the same command again' });
      },
    }),
    async () => void seenAtCheck.push(await leaseHolder()),
  );
  const drain = before(fakeStep('drain'), async () => void seenAtChange.push(await leaseHolder()));
  const restart = fakeStep('restart', {
    onRun: (ctx) => {
      if (ctx.node.id === o.failOn) throw new StepError(`the restart command of ${o.failOn} exited with code 7`, { next: 'quantum-roll resume' });
      if (ctx.node.id === o.stopAfter) o.stop?.request('signal', 'SIGINT');
    },
  });
  const steps: FakeStep[] = [precheck, drain, restart];
  return { steps, precheck, drain, restart, seenAtCheck, seenAtChange };
}

/** Two waves whose nodes share no PRG: what the planner would make of the first four nodes. */
async function twoWavesOfTwo(): Promise<string[][]> {
  const cp = new ControlPlaneClient({ baseUrl: sim.cpUrl });
  const ids = nodes.map((n) => n.id);
  const prgs = (await Promise.all(ids.map((id) => cp.listPrgs({ node: id })))).flat();
  const graph = conflictGraph(ids, prgs);
  const pairs: string[][] = [];
  const used = new Set<string>();
  for (const a of ids) {
    if (used.has(a)) continue;
    const b = ids.find((x) => x !== a && !used.has(x) && !graph.get(a)?.has(x));
    if (b === undefined) continue;
    used.add(a).add(b);
    pairs.push([a, b]);
    if (pairs.length === 2) break;
  }
  expect(pairs).toHaveLength(2);
  return pairs;
}

describe('roll', () => {
  it('runs wave after wave; within a wave every node is prechecked before any changes, and the nodes go in order', async () => {
    const waves = await twoWavesOfTwo();
    const plan = planOf(waves);
    const { env, reporter } = await envFor(plan);
    const book = runbook();
    const out = await roll(env, plan, book.steps);
    expect(out.status).toBe('done');
    expect(out.exitCode).toBe(0);
    expect(out.nodes.map((n) => [n.node, n.status])).toEqual(waves.flat().map((id) => [id, 'done']));
    expect(out.nodes[0]!.steps.map((s) => s.step)).toEqual(['precheck', 'drain', 'restart']);
    const ev = reporter.events;
    const at = (e: string) => {
      const i = ev.indexOf(e);
      expect(i, e).toBeGreaterThanOrEqual(0);
      return i;
    };
    for (const [i, wave] of waves.entries()) {
      const lastCheck = Math.max(...wave.map((id) => at(`done ${id} precheck`)));
      const firstChange = Math.min(...wave.map((id) => at(`start ${id} drain`)));
      expect(lastCheck).toBeLessThan(firstChange);
      for (const id of wave) expect(at(`start ${id} drain`)).toBeLessThan(at(`done ${id} restart`));
      const next = waves[i + 1];
      if (next) {
        const waveEnd = Math.max(...wave.map((id) => at(`done ${id} restart`)));
        const nextStart = Math.min(...next.map((id) => at(`start ${id} precheck`)));
        expect(waveEnd).toBeLessThan(nextStart);
      }
    }
    expect(await leaseHolder()).toBeNull();
  });

  it('takes the lease only after the leading checks passed, holds it through the changes, and releases it at the end', async () => {
    const plan = planOf([[nodes[0]!.id], [nodes[1]!.id]]);
    const { env, stateDir } = await envFor(plan);
    const book = runbook();
    const out = await roll(env, plan, book.steps);
    expect(out.status).toBe('done');
    // The first wave's precheck saw no lease; every change saw ours.
    expect(book.seenAtCheck[0]).toBeNull();
    expect(book.seenAtChange).toEqual([env.initiator, env.initiator]);
    expect(await leaseHolder()).toBeNull();
    const journal = JSON.parse(readFileSync(Journal.path(stateDir), 'utf8'));
    expect(journal).toMatchObject({ status: 'done', lease: null, error: null });
  });

  it('a refused precheck: exit 3, the lease never taken, nothing changed, no journal written', async () => {
    const plan = planOf([[nodes[0]!.id], [nodes[1]!.id]]);
    const { env, stateDir } = await envFor(plan);
    const before = (await sim.calls()).length;
    const book = runbook({ refuseOn: nodes[0]!.id });
    const out = await roll(env, plan, book.steps);
    expect(out.status).toBe('refused');
    expect(out.exitCode).toBe(3);
    expect(book.drain.ran).toEqual([]);
    const leaseCalls = (await sim.calls()).slice(before).filter((c) => c.path.startsWith('/v1/leases') && c.method !== 'GET');
    expect(leaseCalls).toEqual([]);
    expect(await leaseHolder()).toBeNull();
    expect(() => readFileSync(Journal.path(stateDir), 'utf8')).toThrow(/ENOENT/);
  });

  it('a lease held by someone else refuses the run (exit 4) before any step runs, and leaves that lease alone', async () => {
    const other = await post(`${sim.cpUrl}/v1/leases`, { name: LEASE_NAME, holder: 'someone-else', ttl_ms: 60_000 });
    expect(other.status).toBe(201);
    const token = (other.json as { token: string }).token;
    try {
      const plan = planOf([[nodes[0]!.id]]);
      const { env } = await envFor(plan);
      const book = runbook();
      const out = await roll(env, plan, book.steps);
      expect(out.status).toBe('refused');
      expect(out.exitCode).toBe(4);
      expect(book.precheck.ran).toEqual([]);
      expect(await leaseHolder()).toBe('someone-else');
    } finally {
      expect((await del(`${leaseUrl()}?token=${encodeURIComponent(token)}`)).status).toBe(204);
    }
  });

  it('a failing step: the node journalled failed with the message, no further node starts, exit 1, the lease released', async () => {
    const ids = nodes.slice(0, 3).map((n) => n.id);
    const plan = planOf(ids.map((id) => [id]));
    const { env, stateDir } = await envFor(plan);
    const book = runbook({ failOn: ids[1] });
    const out = await roll(env, plan, book.steps);
    expect(out.status).toBe('failed');
    expect(out.exitCode).toBe(1);
    expect(out.error?.message).toMatch(/exited with code 7/);
    expect(out.nodes.map((n) => [n.node, n.status])).toEqual([
      [ids[0], 'done'],
      [ids[1], 'failed'],
    ]);
    expect(book.precheck.ran).toEqual([ids[0], ids[1]]);
    expect(await leaseHolder()).toBeNull();
    const journal = JSON.parse(readFileSync(Journal.path(stateDir), 'utf8'));
    expect(journal.status).toBe('failed');
    expect(journal.lease).toBeNull();
    expect(journal.error).toMatch(/exited with code 7/);
    expect(journal.nodes[ids[0]!]).toMatchObject({ status: 'done' });
    expect(journal.nodes[ids[1]!]).toMatchObject({ status: 'failed', step: 'restart', steps: { restart: { outcome: 'failed' }, drain: { outcome: 'done' } } });
    expect(journal.nodes[ids[1]!].error).toMatch(/exited with code 7/);
    expect(journal.nodes[ids[2]!]).toMatchObject({ status: 'pending', steps: {} });
  });

  it('a stop requested during a node is honoured before the next node: it never starts, exit 130, the lease released', async () => {
    const ids = nodes.slice(0, 3).map((n) => n.id);
    const plan = planOf(ids.map((id) => [id]));
    const stop = new StopController();
    const { env, stateDir } = await envFor(plan, { stop });
    const book = runbook({ stopAfter: ids[0], stop });
    const out = await roll(env, plan, book.steps);
    expect(out.status).toBe('interrupted');
    expect(out.exitCode).toBe(130);
    // The node that was running finished its last step; the next one did not start a single step.
    expect(book.restart.ran).toEqual([ids[0]]);
    for (const s of book.steps) expect(s.ran).not.toContain(ids[1]);
    expect(await leaseHolder()).toBeNull();
    const journal = JSON.parse(readFileSync(Journal.path(stateDir), 'utf8'));
    expect(journal.status).toBe('interrupted');
    expect(journal.lease).toBeNull();
    expect(journal.nodes[ids[0]!].status).toBe('done');
    expect(journal.nodes[ids[1]!].steps).toEqual({});
    expect(journal.nodes[ids[2]!].status).toBe('pending');
  });

  it('resumes from a journalled step: earlier steps of that node do not run again, done nodes are left alone, the journalled lease is taken over and released', async () => {
    const ids = nodes.slice(0, 3).map((n) => n.id);
    const plan = planOf(ids.map((id) => [id]));
    // A first run that was interrupted after ids[1]'s drain, still holding its lease.
    const stop = new StopController();
    const first = await envFor(plan, { stop });
    const drainStop = runbook();
    before(drainStop.drain, async (ctx) => {
      if (ctx.node.id === ids[1]) stop.request('signal', 'SIGINT');
    });
    const firstOut = await roll(first.env, plan, drainStop.steps);
    expect(firstOut.status).toBe('interrupted');
    // The CP did not hear the release (as after a kill): put the lease back under the journalled token.
    const journalled = Journal.read(first.stateDir)!;
    expect(journalled.data.nodes[ids[1]!]).toMatchObject({ status: 'interrupted', steps: { drain: { outcome: 'done' } } });
    const again = await post(`${sim.cpUrl}/v1/leases`, { name: LEASE_NAME, holder: first.env.initiator, ttl_ms: 60_000 });
    expect(again.status).toBe(201);
    journalled.data.lease = { name: LEASE_NAME, holder: first.env.initiator, token: (again.json as { token: string }).token };
    journalled.persist();

    const second = await envFor(plan, { journal: journalled });
    const book = runbook();
    const callsBefore = (await sim.calls()).length;
    const out = await roll(second.env, plan, book.steps, { from: new Map([[ids[0]!, 'done'], [ids[1]!, 'restart'], [ids[2]!, 'precheck']]) });
    const leaseCalls = (await sim.calls()).slice(callsBefore).filter((c) => c.path.startsWith('/v1/leases') && c.method !== 'GET');
    // Taken over by renewing with the journalled token (no new acquisition), released once at the end.
    expect(leaseCalls.map((c) => c.method)).toContain('PUT');
    expect(leaseCalls.filter((c) => c.method === 'POST')).toEqual([]);
    expect(leaseCalls.at(-1)).toMatchObject({ method: 'DELETE', status: 204 });
    expect(out.status).toBe('done');
    expect(book.precheck.ran).toEqual([ids[2]]);
    expect(book.drain.ran).toEqual([ids[2]]);
    expect(book.restart.ran).toEqual([ids[1], ids[2]]);
    expect(out.nodes.map((n) => n.node)).toEqual([ids[1], ids[2]]);
    // The node that went through the whole pipeline changed under the taken-over lease.
    expect(book.seenAtChange).toEqual([first.env.initiator]);
    expect(await leaseHolder()).toBeNull();
    const journal = JSON.parse(readFileSync(Journal.path(first.stateDir), 'utf8'));
    expect(journal).toMatchObject({ status: 'done', lease: null });
    expect(ids.map((id) => journal.nodes[id].status)).toEqual(['done', 'done', 'done']);
  });
});
