/** The plan document (run/plan/) and its text (render/plan.ts) from fixed facts, no cluster. */
/* eslint-disable no-control-regex -- the test looks for ANSI colour codes */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { planDocument, type PlanFacts } from '../../src/run/plan/document.js';
import { etaModel } from '../../src/run/eta.js';
import { planVerdict, renderPlanText } from '../../src/render/plan.js';
import { targetOf } from '../../src/cluster/targets.js';
import type { ClusterState, CpStatus } from '../../src/clients/schemas.js';
import { clusterNode, prg } from '../support/fixtures.js';

const config = parseConfig(
  'control_plane: { url: "http://127.0.0.1:1" }\nrestart: { command: ["ssh", "{node}", "restart"] }\n',
  '/tmp/quantum-roll.yaml',
  {},
);
const nodes = [clusterNode('n1', 'r1'), clusterNode('n2', 'r2'), clusterNode('n3', 'r3')];
const prgs = [prg('p1', ['n1', 'n2', 'n3']), prg('p2', ['n2', 'n3', 'n1']), prg('p3', ['n3', 'n1', 'n2'], { leader: 'n1' })];
const cp: CpStatus = { leader: 'cp-1', term: 7, healthy: true, members: [{ id: 'cp-1', healthy: true }] } as CpStatus;

function facts(over: Partial<PlanFacts> = {}): PlanFacts {
  const state = { cp, nodes, prgs: { total: 3, ready: 3, strict_fallback: 0 }, placement: { policy: 'one_replica_per_rack', violations: 0 } } as unknown as ClusterState;
  return {
    generatedAt: '2026-01-01T00:00:00.000Z',
    configFile: '/tmp/quantum-roll.yaml',
    config,
    state,
    cpReady: { ok: true, cp },
    prgs,
    targets: nodes.map((n) => targetOf(config, n)),
    waves: [['n2'], ['n3'], ['n1']],
    lb: { name: 'none', endpoint: '' },
    lease: null,
    eta: etaModel(config, undefined),
    options: { parallel: 1, pauseMs: 30_000, all: true, force: false, allowOverload: false, nodes: [] },
    ...over,
  };
}

describe('plan document and text', () => {
  it('a plan before any run: waves, per-node facts and waits from the step records, the run command', () => {
    const d = planDocument(facts(), undefined, { dryRun: true });
    expect(d.run_command).toBe('quantum-roll restart --all --pause 30s');
    expect(d.waves.map((w) => w.nodes)).toEqual([['n2'], ['n3'], ['n1']]);
    expect(d.nodes.n1).toMatchObject({ wave: 3, status: 'not_checked', prgs_led: ['p1', 'p3'], prgs_hosted: 3, restart_argv: ['ssh', 'n1', 'restart'] });
    // n3 leads nothing: its leader-transfer waits for nothing and is expected to take no time
    const lt = d.nodes.n3!.waits.find((w) => w.step === 'leader-transfer');
    expect(lt).toMatchObject({ for: 'nothing: n3 leads no PRG', expected_ms: 0 });
    expect(d.nodes.n1!.waits.find((w) => w.step === 'leader-transfer')?.for).toBe('leadership of 2 PRG(s) to leave n1 (the CP shows it leading none)');
    expect(d.checks.filter((c) => c.scope === 'cluster').map((c) => [c.id, c.status])).toEqual([
      ['cp_healthy', 'pass'],
      ['prgs_ready', 'pass'],
      ['placement', 'pass'],
      ['lease', 'pass'],
    ]);
  });

  it('the CP check follows /readyz, not cluster/state', () => {
    const d = planDocument(facts({ cpReady: { ok: false, cp } }), undefined, { dryRun: true });
    expect(d.checks.find((c) => c.id === 'cp_healthy')?.status).toBe('fail');
    expect(d.cluster.cp.healthy).toBe(false);
  });

  it('the text: a table per wave, the waits, the ETA, the checks; no colour codes without colour', () => {
    const d = planDocument(facts(), undefined, { dryRun: true });
    const text = renderPlanText(d, { verbose: false, color: false, withChecks: 'plan' });
    expect(text).not.toMatch(/\x1b\[/);
    expect(text).toMatch(/^Plan: restart 3 nodes in 3 waves \(one node at a time, 30s pause between waves\) — dry run, nothing changed$/m);
    expect(text).toMatch(/^Wave 3\/3 {2}n1 {2}rack r1 {2}quorum ok \(3 PRGs\)/m);
    expect(text).toMatch(/^ {2}n1 +r1 +2 +3 +\? +\(readyz\) +ssh n1 restart +not_checked$/m);
    expect(text).toMatch(/^ {2}quiesce +≈ \S+ +≤ \S+ +config +sessions ≤ 0 or the \S+ grace$/m);
    expect(text).toMatch(/^ {2}✓ control plane healthy: leader cp-1, term 7$/m);
    expect(planVerdict(d, false)).toBe('Plan OK. Run it: quantum-roll restart --all --pause 30s  (asks for confirmation; --yes in scripts)');
  });

  it('with colour, the table still lines up by visible width', () => {
    const d = planDocument(facts(), undefined, { dryRun: true });
    const plain = renderPlanText(d, { verbose: false, color: false, withChecks: false });
    const coloured = renderPlanText(d, { verbose: false, color: true, withChecks: false });
    expect(coloured).toMatch(/\x1b\[/);
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(plain);
  });
});
