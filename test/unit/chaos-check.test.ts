/**
 * The chaos campaign's invariant checker (chaos/check.mjs) on hand-made simulator
 * records: a clean roll passes, and each invariant it guards is reported when broken,
 * so a campaign reporting zero violations means something.
 */
import { describe, expect, it } from 'vitest';
import { checkRun } from '../../chaos/check.mjs';

type Rec = Record<string, any>;

/** node-1 rolled cleanly on a 3-node cluster with one PRG on every node; times in ms. */
function cleanRun(): Rec {
  const calls: Rec[] = [
    { t: 10, system: 'node', node: 'node-1', method: 'PUT', path: '/v1/drain', status: 200, body: {} },
    { t: 20, system: 'lb', node: 'node-1', method: 'PUT', path: '/v1/pools/mqtt/members/node-1/admin-state', status: 200, body: { admin_state: 'draining' } },
    { t: 310, system: 'node', node: 'node-1', method: 'DELETE', path: '/v1/drain', status: 200, body: null },
    { t: 320, system: 'lb', node: 'node-1', method: 'PUT', path: '/v1/pools/mqtt/members/node-1/admin-state', status: 200, body: { admin_state: 'enabled' } },
  ];
  const events: Rec[] = [
    { t: 20, event: 'lb_admin_state', node: 'node-1', admin_state: 'draining' },
    { t: 100, event: 'restart', node: 'node-1' },
    { t: 101, event: 'process_down', node: 'node-1' },
    { t: 110, event: 'process_up', node: 'node-1' },
    { t: 300, event: 'replay_done', node: 'node-1' },
    { t: 320, event: 'lb_admin_state', node: 'node-1', admin_state: 'enabled' },
  ];
  return {
    plan: { target: 'node-1' },
    placement: [{ id: 'prg-0001', nodes: ['node-1', 'node-2', 'node-3'] }],
    calls,
    events,
    stats: { maxUnavailablePerPrg: 1 },
    nodes: ['node-1', 'node-2', 'node-3'].map((id) => ({ id, draining: false, adminState: 'enabled' })),
    lease: { status: 404, body: null },
    journal: { status: 'done' },
    outcome: 'done',
    last: { json: { ok: true } },
    applied: [],
    t0: 0,
  };
}

const invariants = (r: Rec) => checkRun(r).filter((v) => !v.exposure).map((v) => v.invariant);

describe('chaos checker', () => {
  it('a clean roll breaks nothing', () => {
    expect(checkRun(cleanRun())).toEqual([]);
  });

  it('a restart while the LB member is enabled (an LB reload re-enabled it) is reported', () => {
    const r = cleanRun();
    r.events.push({ t: 50, event: 'lb_admin_state', node: 'node-1', admin_state: 'enabled' });
    expect(invariants(r)).toContain('no restart while the LB member is in service');
  });

  it('a restart with the drain flag clear is reported', () => {
    const r = cleanRun();
    r.calls.push({ t: 60, system: 'node', node: 'node-1', method: 'DELETE', path: '/v1/drain', status: 200, body: null });
    expect(invariants(r)).toContain('no restart while the drain flag is clear');
  });

  it('a restart while another replica is down: a violation when it was down before the drain, an exposure when it went down after', () => {
    const before = cleanRun();
    before.applied = [{ kind: 'replica_down', node: 'node-2', t: 5, cleared: 200 }];
    expect(invariants(before)).toEqual(['no PRG below a healthy quorum because of the roll']);
    const after = cleanRun();
    after.applied = [{ kind: 'replica_down', node: 'node-2', t: 50, cleared: 200 }];
    const found = checkRun(after);
    expect(found.map((v) => [v.invariant, v.exposure])).toEqual([['no PRG below a healthy quorum because of the roll', true]]);
    // Two nodes restarted by the roll at once, sharing the PRG.
    const both = cleanRun();
    both.plan.target = 'all';
    both.events.push({ t: 150, event: 'restart', node: 'node-2' }, { t: 400, event: 'replay_done', node: 'node-2' });
    expect(invariants(both)).toContain('no PRG below a healthy quorum because of the roll');
  });

  it('a readmit before the replay is done is reported (drain cleared, LB enabled)', () => {
    const r = cleanRun();
    r.events = r.events.map((e: Rec) => (e.event === 'replay_done' ? { ...e, t: 900 } : e));
    expect(invariants(r).filter((x) => x === 'no readmit before ready')).toHaveLength(2);
    const lbFirst = cleanRun();
    lbFirst.calls[3].t = 305; // LB enabled before the drain flag was cleared
    expect(invariants(lbFirst)).toContain('no readmit before ready');
  });

  it('restarts counted: twice is reported; a done run with a target not restarted is reported', () => {
    const twice = cleanRun();
    twice.events.push({ t: 500, event: 'restart', node: 'node-1' }, { t: 700, event: 'replay_done', node: 'node-1' });
    expect(invariants(twice)).toContain('every node restarted at most once per run');
    const missed = cleanRun();
    missed.plan.target = 'all';
    expect(invariants(missed).filter((x) => x === 'exactly once when the run says done')).toHaveLength(2);
  });

  it('a node left drained is fine only when the failed run named it', () => {
    const left = cleanRun();
    left.nodes[0].draining = true;
    expect(invariants(left)).toContain('nothing left drained or out unless said and named');
    left.outcome = 'failed safely (exit 1)';
    left.last = { json: { ok: false, error: { node: 'node-1', message: 'readmit of node-1 failed' } } };
    left.journal = { status: 'failed' };
    expect(invariants(left)).not.toContain('nothing left drained or out unless said and named');
    left.last = { json: { ok: false, error: { node: 'node-2', message: 'readmit of node-2 failed' } } };
    expect(invariants(left)).toContain('nothing left drained or out unless said and named');
    // A parallel wave that failed on two nodes: the second is named by its own entry in the outcome.
    left.last.json.nodes = { 'node-1': { status: 'failed', error: 'node-1 did not become ready within 4s. It is left drained and out of the LB.' } };
    expect(invariants(left)).not.toContain('nothing left drained or out unless said and named');
  });

  it('a lease left held and a run that never ended are reported', () => {
    const r = cleanRun();
    r.lease = { status: 200, body: { holder: 'quantum-roll@host' } };
    r.outcome = 'unexpected exit 2';
    expect(invariants(r)).toEqual(expect.arrayContaining(['no lease left held', 'the run ends done or failed safely']));
  });

  it('a SIGTERM that killed the CLI after its first journal write is a finding, not a cluster violation; an early one is neither', () => {
    const r = cleanRun();
    r.plan.signals = [{ sig: 'SIGTERM', early: false, after: 900 }];
    r.invocations = [{ args: ['resume'], sent: 'SIGTERM', killedBy: 'SIGTERM', code: 128 }];
    const found = checkRun(r);
    expect(found.map((v) => [v.invariant, v.finding])).toEqual([['SIGINT/SIGTERM handled once the journal exists', true]]);
    r.plan.signals[0].early = true;
    expect(checkRun(r)).toEqual([]);
    r.plan.signals[0].early = false;
    r.invocations[0] = { args: ['resume'], sent: 'SIGTERM', killedBy: null, code: 130 };
    expect(checkRun(r)).toEqual([]);
  });
});
