/**
 * The chaos campaign's invariant checker (chaos/check.mjs) on hand-made simulator
 * records: a clean roll passes, and each invariant it guards is reported when broken,
 * so a campaign reporting zero violations means something.
 */
import { describe, expect, it } from 'vitest';
import { checkRun } from '../../chaos/check.mjs';
import { adminStates, lbRecordAsCalls } from '../../chaos/lb-proxy.mjs';

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
    // Down after the drain but before the CLI's last read of the node's PRGs before the restart
    // (the re-assertion): the CLI saw it and restarted anyway, a violation. Read before the fault: an exposure.
    const prgRead = (t: number) => ({ t, t_end: t + 3, system: 'cp', method: 'GET', path: '/v1/prgs?node=node-1&limit=1000', status: 200, body: null });
    const seen = cleanRun();
    seen.applied = [{ kind: 'replica_down', node: 'node-2', t: 50, t_applied: 52, cleared: 200 }];
    seen.calls.push(prgRead(80));
    expect(invariants(seen)).toEqual(['no PRG below a healthy quorum because of the roll']);
    const unseen = cleanRun();
    unseen.applied = [{ kind: 'replica_down', node: 'node-2', t: 50, t_applied: 52, cleared: 200 }];
    unseen.calls.push(prgRead(40), prgRead(51)); // the last read began before the fault was in effect
    expect(checkRun(unseen).map((v) => [v.invariant, v.exposure])).toEqual([['no PRG below a healthy quorum because of the roll', true]]);
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

  describe('the MQTT campaign (--mqtt): the clients and the brokers', () => {
    /** The clean roll under load: a `sim load` report with nothing lost or stranded, and broker CONNECT traces outside the drain. */
    function loaded(): Rec {
      const r = cleanRun();
      r.calls[0].t_end = 12;
      r.load = {
        clients: { total: 40, mqtt5: 27, mqtt311: 13, connected_at_end: 40, not_connected: [], gave_up: 0 },
        messages: { published: 900, acked: 900, unacked: 0, delivered: 900, lost: 0, duplicates: 3, held_for_gave_up: 0 },
        lost_samples: [],
        sessions_lost: 0,
        draining_accepts: { checked: 60, unidentified: 20, accepted_while_draining: 0, borderline: 0, samples: [] },
      };
      r.events.push(
        // before the drain, refused during it, accepted after it was cleared
        { t: 5, event: 'connect', node: 'node-1', client: 'qrl-a-1', outcome: 'connack', ms: 3 },
        { t: 50, event: 'connect', node: 'node-1', client: 'qrl-a-2', outcome: 'refused', reason: 'draining', ms: 2 },
        { t: 311, event: 'connect', node: 'node-1', client: 'qrl-a-3', outcome: 'connack', ms: 4 },
        // accepted by another node while node-1 was drained
        { t: 60, event: 'connect', node: 'node-2', client: 'qrl-a-4', outcome: 'connack', ms: 4 },
      );
      return r;
    }

    it('a clean roll under load breaks nothing', () => {
      expect(checkRun(loaded())).toEqual([]);
    });

    it('a PUBACKed message never delivered is reported', () => {
      const r = loaded();
      r.load.messages.lost = 2;
      r.load.lost_samples = [{ sender: 'qrl-a-7', seq: 41 }];
      const v = checkRun(r);
      expect(v.map((x) => x.invariant)).toEqual(['no PUBACKed message lost']);
      expect(v[0]!.detail).toContain('qrl-a-7#41');
    });

    it('a client not connected at the end, or a reconnect that found its session gone, is reported', () => {
      const notBack = loaded();
      notBack.load.clients.not_connected = ['qrl-a-9'];
      expect(invariants(notBack)).toEqual(['no client stranded']);
      const sessionGone = loaded();
      sessionGone.load.sessions_lost = 1;
      expect(invariants(sessionGone)).toEqual(['no client stranded']);
    });

    it('a CONNECT accepted while draining is reported, from the clients and from the brokers alike', () => {
      const clients = loaded();
      clients.load.draining_accepts.accepted_while_draining = 1;
      clients.load.draining_accepts.samples = [{ client: 'qrl-a-5', node: 'node-1', sent_at: 40, connack_at: 45 }];
      expect(invariants(clients)).toEqual(['no CONNECT accepted while draining']);
      const brokers = loaded();
      brokers.events.push({ t: 200, event: 'connect', node: 'node-1', client: 'qrl-a-6', outcome: 'connack', ms: 5 });
      const v = checkRun(brokers);
      expect(v.map((x) => x.invariant)).toEqual(['no CONNECT accepted while draining']);
      expect(v[0]!.detail).toContain('qrl-a-6 by node-1');
      // Across a drain edge (sent before the flag was set and answered): not certain, not reported.
      const edge = loaded();
      edge.events.push({ t: 9, event: 'connect', node: 'node-1', client: 'qrl-a-8', outcome: 'connack', ms: 10 });
      expect(checkRun(edge)).toEqual([]);
      // A node left drained at the end: its window stays open.
      const open = loaded();
      open.calls = open.calls.filter((c: Rec) => c.method !== 'DELETE');
      open.outcome = 'failed safely (exit 1)';
      open.journal = { status: 'failed' };
      open.nodes[0].draining = true;
      open.last = { json: { ok: false, error: { node: 'node-1', message: 'node-1 did not become ready' } } };
      open.events.push({ t: 5000, event: 'connect', node: 'node-1', client: 'qrl-a-9', outcome: 'connack', ms: 5 });
      expect(invariants(open)).toContain('no CONNECT accepted while draining');
    });

    it('a load that gave no report, or published nothing, or could not check the drain, is reported', () => {
      const none = loaded();
      none.load = null;
      none.loadExit = { code: 1, stderr: 'load failed: 3 of 40 load clients did not connect' };
      expect(invariants(none)).toEqual(['the client load ran to its report']);
      const idle = loaded();
      idle.load.messages.published = 0;
      idle.load.messages.acked = 0;
      expect(invariants(idle)).toEqual(['the client load ran to its report']);
      const unchecked = loaded();
      unchecked.load.draining_accepts = null;
      expect(invariants(unchecked)).toEqual(['no CONNECT accepted while draining']);
    });

    it("HAProxy's Runtime API record reads as the LB's calls and admin-state events: a restart with the server back in service is reported", () => {
      const r = loaded();
      // The same roll behind HAProxy: the LB side from the recording proxy instead of the http LB.
      r.calls = r.calls.filter((c: Rec) => c.system !== 'lb');
      r.events = r.events.filter((e: Rec) => e.event !== 'lb_admin_state');
      const record = [
        { t: 18, t_end: 20, cmd: 'set server mqtt/node-1 state drain', answer: '\n' },
        { t: 315, t_end: 320, cmd: 'set server mqtt/node-1 state ready', answer: '\n' },
        { t: 330, t_end: 331, cmd: 'show servers state mqtt', answer: '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n' },
      ];
      const lb = lbRecordAsCalls(record);
      expect(lb.events.map((e: Rec) => [e.t, e.node, e.admin_state])).toEqual([
        [20, 'node-1', 'draining'], // out of service at the answer
        [315, 'node-1', 'enabled'], // back in service at the receipt
      ]);
      const clean = { ...r, calls: [...r.calls, ...lb.calls], events: [...r.events, ...lb.events] };
      expect(checkRun(clean)).toEqual([]);
      // A reload (the driver's own command) re-enabled it before the restart, and nobody drained it again.
      const reloaded = lbRecordAsCalls([...record, { t: 60, t_end: 61, cmd: 'set server mqtt/node-1 state ready', answer: '', by: 'chaos' }]);
      const bad = { ...r, calls: [...r.calls, ...reloaded.calls], events: [...r.events, ...reloaded.events] };
      expect(invariants(bad)).toEqual(['no restart while the LB member is in service']);
      // ...also when the CLI read the LB after that reload and restarted anyway (it saw the server back in service).
      const show = (t: number) => ({ t, t_end: t + 2, cmd: 'show servers state mqtt', answer: '1\n# be_id be_name srv_id srv_name srv_admin_state\n' });
      const seen = lbRecordAsCalls([...record, { t: 60, t_end: 61, cmd: 'set server mqtt/node-1 state ready', answer: '', by: 'chaos' }, show(90)]);
      expect(invariants({ ...r, calls: [...r.calls, ...seen.calls], events: [...r.events, ...seen.events] })).toEqual(['no restart while the LB member is in service']);
      // A read received while the enable was still unanswered may not have seen it: not a violation.
      const during = lbRecordAsCalls([...record, { t: 60, t_end: 70, cmd: 'set server mqtt/node-1 state ready', answer: '', by: 'chaos' }, show(65)]);
      const inStep = { status: 'done', nodes: { 'node-1': { steps: { restart: { started_at: new Date(62).toISOString() } } } } };
      expect(invariants({ ...r, journal: inStep, calls: [...r.calls, ...during.calls], events: [...r.events, ...during.events] })).toEqual([]);
      // A reload after the CLI's last read before the command (the re-assertion), during the command's own
      // start-up: the CLI could not have seen it. An exposure, not a violation.
      const race = lbRecordAsCalls([...record, show(90), { t: 95, t_end: 96, cmd: 'set server mqtt/node-1 state ready', answer: '', by: 'chaos' }]);
      const journal = { status: 'done', nodes: { 'node-1': { steps: { restart: { started_at: new Date(85).toISOString() } } } } };
      const raced = checkRun({ ...r, journal, calls: [...r.calls, ...race.calls], events: [...r.events, ...race.events] });
      expect(raced.map((v) => [v.invariant, v.exposure])).toEqual([['no restart while the LB member is in service', true]]);
      // The same when the CLI's last read was an earlier step's (no re-assertion in the restart step): a violation.
      const late = { ...journal, nodes: { 'node-1': { steps: { restart: { started_at: new Date(92).toISOString() } } } } };
      expect(invariants({ ...r, journal: late, calls: [...r.calls, ...race.calls], events: [...r.events, ...race.events] })).toEqual(['no restart while the LB member is in service']);
      // A command HAProxy refused changes nothing.
      const refused = lbRecordAsCalls([{ t: 18, t_end: 20, cmd: 'set server mqtt/node-1 state drain', answer: 'No such server.\n' }]);
      expect(refused.events).toEqual([]);
      expect(refused.calls[0]?.status).toBe(500);
    });

    it("HAProxy's admin bits read as the LB's words", () => {
      const text = [
        '1',
        '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight',
        '3 mqtt 1 node-1 127.0.0.1 2 0 1',
        '3 mqtt 2 node-2 127.0.0.1 2 8 1',
        '3 mqtt 3 node-3 127.0.0.1 0 1 1',
        '',
      ].join('\n');
      expect(adminStates(text)).toEqual({ 'node-1': 'enabled', 'node-2': 'draining', 'node-3': 'disabled' });
    });
  });
});
