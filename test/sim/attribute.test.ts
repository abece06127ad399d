/**
 * The join behind `slow_reconnects`, with fixed inputs: client attempts + broker CONNECT
 * traces + node lifecycle → one cause, node and node state per slow reconnect.
 */
import { describe, expect, it } from 'vitest';
import { attributeSlow, nodeState } from '../../src/sim/load/attribute.js';
import type { SimRecord } from '../../src/sim/load/record.js';
import { type ClientRecord, emptyRecord } from '../../src/sim/load/report.js';

const T = 1_800_000_000_000;
const DOOR = '127.0.0.1:1883';

function client(id: string, lostAt: number, backAt: number, attempts: ClientRecord['attempts']): ClientRecord {
  const r = emptyRecord(0, id, 5);
  r.disconnects.push({ at: T + lostAt, back: T + backAt, reasonCode: 0x9c });
  r.attempts = attempts.map((a) => ({ ...a, start: T + a.start, tcp: a.tcp === null ? null : T + a.tcp, end: a.end === null ? null : T + a.end }));
  return r;
}

const record = (over: Partial<SimRecord> = {}): SimRecord => ({
  connects: [],
  lifecycle: [],
  drainWindows: [],
  nodeByEndpoint: { '127.0.0.1:2001': 'node-1', '127.0.0.1:2002': 'node-2' },
  ...over,
});

describe('attributeSlow', () => {
  it('fast reconnects are not listed; the threshold is the retry timer + 1 s', () => {
    const c = client('fast', 0, 900, [{ start: 50, tcp: 55, end: 900, target: DOOR, outcome: 'connack', node: 'node-2' }]);
    const s = attributeSlow([c], record(), 100, [DOOR]);
    expect(s).toMatchObject({ threshold_ms: 1100, count: 0, items: [], sim_record: true });
  });

  it('a refusal through the front door by a draining node: routed to a node out of service, with the node and its state', () => {
    const c = client('c1', 0, 4_000, [
      { start: 10, tcp: 12, end: 3_000, target: DOOR, outcome: 'refused', code: 0x9c, node: 'node-1' },
      { start: 3_100, tcp: 3_105, end: 4_000, target: DOOR, outcome: 'connack', node: 'node-2' },
    ]);
    const rec = record({
      connects: [{ t: T + 2_900, event: 'connect', node: 'node-1', client: 'c1', outcome: 'refused', code: 0x9c, reason: 'draining', ms: 90, waits: { parse: 5 } }],
      drainWindows: [{ node: 'node-1', from: T - 1_000, to: T + 10_000 }],
    });
    const s = attributeSlow([c], rec, 100, [DOOR]);
    expect(s.count).toBe(1);
    expect(s.items[0]).toMatchObject({ client: 'c1', ms: 4_000, cause: 'routed to a node out of service', node: 'node-1', node_state: 'draining', attempts: 2 });
    expect(s.items[0]?.detail).toContain('CONNACK 0x9C by node-1 (draining) through the front door');
  });

  it('a connack timeout on a node that never read the CONNECT names that node (straight to it)', () => {
    const c = client('c2', 0, 10_500, [
      { start: 20, tcp: 25, end: 10_020, target: '127.0.0.1:2002', outcome: 'connack timeout' },
      { start: 10_100, tcp: 10_101, end: 10_500, target: '127.0.0.1:2002', outcome: 'connack', node: 'node-2' },
    ]);
    const s = attributeSlow([c], record(), 100, [DOOR]);
    expect(s.items[0]).toMatchObject({ cause: 'no CONNACK', node: 'node-2', node_state: 'up' });
    expect(s.items[0]?.detail).toContain("node-2 never read the CONNECT");
  });

  it("the broker's trace names the stage it held the CONNECT in", () => {
    const c = client('c3', 0, 10_500, [{ start: 20, tcp: 25, end: 10_020, target: DOOR, outcome: 'connack timeout' }]);
    const rec = record({ connects: [{ t: T + 30, event: 'connect_pending', node: 'node-3', client: 'c3', stage: 'restore', ms: 600, waits: { parse: 2, owner: 3, session: 5, restore: 590 } }] });
    const s = attributeSlow([c], rec, 100, [DOOR]);
    expect(s.items[0]).toMatchObject({ cause: 'no CONNACK', node: 'node-3' });
    expect(s.items[0]?.detail).toContain('restore');
  });

  it('waits between quick failures: client backoff', () => {
    const c = client('c4', 0, 3_000, [
      { start: 10, tcp: null, end: 20, target: DOOR, outcome: 'ECONNREFUSED' },
      { start: 1_500, tcp: null, end: 1_510, target: DOOR, outcome: 'ECONNREFUSED' },
      { start: 2_900, tcp: 2_905, end: 3_000, target: DOOR, outcome: 'connack', node: 'node-2' },
    ]);
    const s = attributeSlow([c], record(), 100, [DOOR]);
    expect(s.items[0]).toMatchObject({ cause: 'client backoff', attempts: 3 });
  });

  it('node state from the lifecycle: restarting, down, replaying, evicting, up', () => {
    const rec = record({
      lifecycle: [
        { t: 100, event: 'disconnect_request', node: 'node-1', requested: 5 },
        { t: 200, event: 'disconnect_end', node: 'node-1' },
        { t: 300, event: 'restart', node: 'node-1' },
        { t: 400, event: 'process_down', node: 'node-1' },
        { t: 500, event: 'process_up', node: 'node-1' },
        { t: 600, event: 'replay_done', node: 'node-1' },
      ],
    });
    expect([150, 250, 350, 450, 550, 650].map((t) => nodeState(rec, 'node-1', t))).toEqual([
      'draining, evicting (quiesce)',
      'up',
      'restarting',
      'down (restarting)',
      'replaying',
      'up',
    ]);
    expect(nodeState(null, 'node-1', 0)).toBeNull();
  });
});
