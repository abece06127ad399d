/**
 * The diagnosis rules of `status` (cluster/diagnose.ts) on fixed inputs: each attention
 * item fires on its input and not on a healthy cluster; the verdicts it uses are the
 * shared ones (cluster/verdicts.ts): the CP by its /readyz, PRG health, placement, counts.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterState, LeaseInfo } from '../../src/clients/schemas.js';
import {
  type Attention,
  type StatusFacts,
  type StatusNode,
  ago,
  diagnose,
  isLeakedDrain,
  statusDocument,
} from '../../src/cluster/diagnose.js';
import { hardPlacementViolations, placementAudit, prgsHealthy, prgsPerNode } from '../../src/cluster/verdicts.js';
import { clusterNode, prg } from '../support/fixtures.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');
const RUN = '20261201T094000-abc123';
const RUNNER = `quantum-roll@ops:42/${RUN}`;

function node(id: string, over: Partial<StatusNode> = {}): StatusNode {
  return {
    id,
    state: 'up',
    rack: 'r1',
    zone: 'z1',
    admin_url: `https://${id}.internal:9443`,
    ready: true,
    reasons: [],
    replay_progress: 1,
    sessions: 200,
    drain: { draining: false, reason: null, since: null, initiator: null, run_id: null },
    lb: { member: id, admin_state: 'enabled', health: 'up', active_connections: 200 },
    prgs_hosted: 10,
    prgs_led: 3,
    boot_id: 'b1',
    started_at: '2026-12-01T09:00:00Z',
    version: '1.0.0',
    leaked_drain: false,
    ...over,
  };
}

const cp = { leader: 'cp-1', term: 7, healthy: true, members: [{ id: 'cp-1', healthy: true }, { id: 'cp-2', healthy: true }, { id: 'cp-3', healthy: true }] };

function state(over: Partial<ClusterState> = {}): ClusterState {
  return {
    cp,
    routing_epoch: 7,
    nodes: [clusterNode('node-1', 'r1'), clusterNode('node-2', 'r2')],
    prgs: { total: 100, ready: 100, strict_fallback: 0 },
    placement: { policy: 'one_replica_per_rack', violations: 0 },
    ...over,
  };
}

function facts(over: Partial<StatusFacts> = {}): StatusFacts {
  return {
    cpReady: { ok: true, cp },
    state: state(),
    violations: [],
    lease: null,
    nodes: [node('node-1'), node('node-2', { rack: 'r2' })],
    journal: undefined,
    minPrgsReadyRatio: 0.99,
    now: NOW,
    ...over,
  };
}

const drainedBy = (initiator: string, since = '2026-12-01T09:58:00Z') => ({ draining: true, reason: 'rolling-restart', since, initiator, run_id: RUN });
const kinds = (a: Attention[]) => a.map((x) => x.kind);
const about = (a: Attention[], kind: Attention['kind']) => a.filter((x) => x.kind === kind);

describe('status diagnosis', () => {
  it('a healthy cluster needs nothing', () => {
    expect(diagnose(facts())).toEqual([]);
  });

  it('CP: judged by its /readyz (the contract rule), not by cluster/state', () => {
    const sick = diagnose(facts({ cpReady: { ok: false, cp: { ...cp, leader: null } } }));
    expect(about(sick, 'cp')).toEqual([
      { kind: 'cp', severity: 'warning', message: 'the control plane is not healthy (leader none, term 7)', next: 'no restart can pass its prechecks until it is' },
    ]);
    // cluster/state saying healthy does not hide a 503 from /readyz …
    expect(kinds(diagnose(facts({ cpReady: { ok: false, cp } })))).toContain('cp');
    // … and a 200 is healthy whatever cluster/state's flag says (the precheck passes it too).
    expect(kinds(diagnose(facts({ state: state({ cp: { ...cp, healthy: false } }) })))).not.toContain('cp');
  });

  it('PRGs: too few ready, or any in strict fallback', () => {
    const few = diagnose(facts({ state: state({ prgs: { total: 100, ready: 98, strict_fallback: 0 } }) }));
    expect(about(few, 'prgs')[0]?.message).toBe('98/100 PRGs ready, 0 in strict fallback (a restart needs ≥ 0.99 and none)');
    expect(kinds(diagnose(facts({ state: state({ prgs: { total: 100, ready: 100, strict_fallback: 1 } }) })))).toEqual(['prgs']);
    expect(kinds(diagnose(facts({ state: state({ prgs: { total: 100, ready: 99, strict_fallback: 0 } }) })))).toEqual([]);
  });

  it('placement: the violations found, or the ones the CP reports', () => {
    const v = hardPlacementViolations([prg('prg-0001', ['node-1', 'node-3', 'node-2'])], [...state().nodes, clusterNode('node-3', 'r1')], 'one_replica_per_rack');
    const found = diagnose(facts({ violations: v }));
    expect(about(found, 'placement')).toEqual([
      { kind: 'placement', severity: 'warning', message: '1 placement violation(s) under one_replica_per_rack: prg-0001 (node-1, node-3)', next: 'quantum-roll placement check' },
    ]);
    const reported = diagnose(facts({ state: state({ placement: { policy: 'one_replica_per_node', violations: 2 } }) }));
    expect(about(reported, 'placement')[0]?.message).toBe('2 placement violation(s) under one_replica_per_node');
  });

  it('leaked drain: drained with no run in progress, with who and since, and what to run', () => {
    const n = node('node-2', { state: 'draining', ready: false, reasons: ['draining'], drain: drainedBy(RUNNER), leaked_drain: true, lb: { member: 'node-2', admin_state: 'draining', health: 'down', active_connections: 0 } });
    const a = diagnose(facts({ nodes: [node('node-1'), n] }));
    expect(a).toEqual([
      {
        node: 'node-2',
        kind: 'leaked_drain',
        severity: 'warning',
        message: `node-2 is drained with no run in progress: a leaked drain (reason rolling-restart, since 2026-12-01T09:58:00Z (2m ago), by ${RUNNER})`,
        next: 'quantum-roll undrain node-2',
      },
    ]);
    // Not ready for another reason too: investigate first.
    const sick = diagnose(facts({ nodes: [{ ...n, reasons: ['draining', 'cp_cache_stale'] }] }));
    expect(about(sick, 'leaked_drain')[0]?.next).toBe('investigate node-2 (not ready: draining, cp_cache_stale), then quantum-roll undrain node-2');
  });

  it('a drain by the run holding the lease is not leaked', () => {
    const lease: LeaseInfo = { name: 'rolling-restart', holder: RUNNER, expires_at: '2026-12-01T10:00:30Z' } as LeaseInfo;
    expect(isLeakedDrain(drainedBy(RUNNER), RUNNER)).toBe(false);
    // Same run id, another initiator string (e.g. a resumed run on another pid).
    expect(isLeakedDrain(drainedBy(RUNNER), `quantum-roll@ops:77/${RUN}`)).toBe(false);
    expect(isLeakedDrain(drainedBy(RUNNER), 'quantum-roll@ops:1/other-run')).toBe(true);
    expect(isLeakedDrain(drainedBy(RUNNER), null)).toBe(true);
    expect(isLeakedDrain({ error: 'unreachable' }, null)).toBe(false);
    const doc = statusDocument(facts({ lease, nodes: [node('node-2', { drain: drainedBy(RUNNER), leaked_drain: false, state: 'draining', lb: { member: 'node-2', admin_state: 'draining', health: 'up', active_connections: 3 } })] }));
    expect(doc.attention).toEqual([]);
    expect(doc.run_in_progress).toEqual({ holder: RUNNER, run_id: RUN });
  });

  it('left drained by an unfinished run: points at resume, and the journal itself is listed', () => {
    const n = node('node-2', { ready: false, reasons: ['draining'], drain: drainedBy(RUNNER), leaked_drain: true, lb: { member: 'node-2', admin_state: 'draining', health: 'down', active_connections: 0 } });
    const journal = { file: '/s/journal.json', run_id: RUN, status: 'failed', unfinished: true, error: 'restart of node-2 failed: exit 1\nmore' };
    const a = diagnose(facts({ nodes: [n], journal }));
    expect(a).toEqual([
      { node: 'node-2', kind: 'left_drained', severity: 'warning', message: `node-2 was left drained by run ${RUN}, which failed (reason rolling-restart, since 2026-12-01T09:58:00Z (2m ago), by ${RUNNER})`, next: 'quantum-roll resume' },
      { kind: 'journal', severity: 'info', message: `unfinished run ${RUN} (failed: restart of node-2 failed: exit 1)`, next: 'quantum-roll resume' },
    ]);
    expect(diagnose(facts({ nodes: [n], journal: { ...journal, status: 'running' } }))[0]?.message).toContain('which stopped without finishing');
    // A finished journal says nothing.
    expect(diagnose(facts({ journal: { ...journal, unfinished: false } }))).toEqual([]);
  });

  it('node out of the LB while not drained', () => {
    const a = diagnose(facts({ nodes: [node('node-1', { lb: { member: 'n1', admin_state: 'disabled', health: 'up', active_connections: 0 } })] }));
    expect(a).toEqual([
      { node: 'node-1', kind: 'lb_out_not_drained', severity: 'warning', message: 'node-1: LB member n1 is disabled but the node is not drained', next: 'quantum-roll undrain node-1 (puts the member back once the node is ready)' },
    ]);
  });

  it('LB member enabled but its health check fails', () => {
    const a = diagnose(facts({ nodes: [node('node-1', { lb: { member: 'node-1', admin_state: 'enabled', health: 'down', active_connections: 0 } })] }));
    expect(a).toEqual([{ node: 'node-1', kind: 'lb_down', severity: 'warning', message: 'node-1: LB member node-1 is enabled but its health check says down' }]);
  });

  it('not ready (and not drained): the reasons and the replay progress', () => {
    const a = diagnose(facts({ nodes: [node('node-1', { ready: false, reasons: ['prgs_replaying'], replay_progress: 0.4 })] }));
    expect(a).toEqual([{ node: 'node-1', kind: 'not_ready', severity: 'info', message: 'node-1 is not ready: prgs_replaying (replay 40 %)' }]);
  });

  it('admin API unreachable: said once, and nothing else about that node', () => {
    const a = diagnose(facts({ nodes: [node('node-1', { drain: { error: 'connect ECONNREFUSED' }, ready: null, state: 'down' })] }));
    expect(a).toEqual([{ node: 'node-1', kind: 'unreachable', severity: 'warning', message: 'node-1: admin API unreachable (connect ECONNREFUSED)' }]);
  });

  it('the CP reports a node down or unknown', () => {
    expect(diagnose(facts({ nodes: [node('node-1', { state: 'unknown' })] }))).toEqual([
      { node: 'node-1', kind: 'node_state', severity: 'warning', message: 'the CP reports node-1 as unknown' },
    ]);
  });

  it('the document: verdict fields and key order of status --json', () => {
    const doc = statusDocument(facts({ nodes: [node('node-2', { drain: drainedBy(RUNNER), leaked_drain: true, ready: false, reasons: ['draining'] })] }));
    expect(Object.keys(doc)).toEqual(['ok', 'exit_code', 'cp', 'routing_epoch', 'prgs', 'placement', 'lease', 'run_in_progress', 'nodes', 'leaked_drains', 'attention', 'journal']);
    expect(doc.prgs).toEqual({ total: 100, ready: 100, strict_fallback: 0, ready_ratio: 1 });
    expect(doc.placement).toEqual({ policy: 'one_replica_per_rack', violations: 0, found: 0 });
    expect(doc.leaked_drains).toEqual(['node-2']);
    expect(doc.journal).toBeNull();
    const j = statusDocument(facts({ journal: { file: '/j', run_id: RUN, status: 'failed', unfinished: true, error: null } })).journal;
    expect(j).toEqual({ file: '/j', run_id: RUN, status: 'failed', unfinished: true, hint: 'quantum-roll resume' });
  });

  it('ago', () => {
    expect(ago('2026-12-01T09:59:50Z', NOW)).toBe('10s ago');
    expect(ago('2026-12-01T09:55:00Z', NOW)).toBe('5m ago');
    expect(ago('2026-12-01T07:55:00Z', NOW)).toBe('2h05m ago');
    expect(ago('2026-11-28T10:00:00Z', NOW)).toBe('3d ago');
    expect(ago(null, NOW)).toBe('?');
  });
});

describe('shared verdicts used by status, placement check and the plan', () => {
  it('prgsPerNode: led ids and hosted counts; two replicas on one node host it once', () => {
    const { led, hosted } = prgsPerNode([prg('a', ['n1', 'n2']), prg('b', ['n2', 'n1', 'n1']), prg('c', ['n3'], { leader: null })]);
    expect(Object.fromEntries(led)).toEqual({ n1: ['a'], n2: ['b'] });
    expect(Object.fromEntries(hosted)).toEqual({ n1: 2, n2: 2, n3: 1 });
  });

  it('prgsHealthy: ratio at least the minimum and no strict fallback', () => {
    expect(prgsHealthy(state(), 0.99)).toBe(true);
    expect(prgsHealthy(state({ prgs: { total: 100, ready: 99, strict_fallback: 0 } }), 0.99)).toBe(true);
    expect(prgsHealthy(state({ prgs: { total: 100, ready: 98, strict_fallback: 0 } }), 0.99)).toBe(false);
    expect(prgsHealthy(state({ prgs: { total: 100, ready: 100, strict_fallback: 1 } }), 0.99)).toBe(false);
    expect(prgsHealthy(state({ prgs: { total: 0, ready: 0, strict_fallback: 0 } }), 0.99)).toBe(true);
  });

  it('placementAudit: hard violations apart from replicas on unknown nodes', () => {
    const nodes = [clusterNode('n1', 'r1'), clusterNode('n2', 'r1'), clusterNode('n3', 'r2')];
    const { hard, unknownNodes } = placementAudit([prg('a', ['n1', 'n2', 'n3']), prg('b', ['n3', 'n3', 'n9'])], nodes, 'one_replica_per_rack');
    expect(hard.map((v) => [v.prg, v.kind, v.where])).toEqual([['a', 'same_rack', 'r1'], ['b', 'same_node', 'n3']]);
    expect(unknownNodes.map((v) => [v.prg, v.where])).toEqual([['b', 'n9']]);
  });
});
