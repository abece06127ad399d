/**
 * The arithmetic of `sim load`'s client-impact report, with fixed inputs: lost and
 * duplicate counting, percentiles, reconnect times, stalls, the drain windows read from
 * the simulator's record and the check of accepted CONNECTs against them, the end of a
 * roll from its journal, Server Reference parsing and the reconnect backoff.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/sim/load/client.js';
import { parseDurationMs, parseMix } from '../../src/sim/load/command.js';
import { drainWindows, rollEnded } from '../../src/sim/load/record.js';
import { type ClientRecord, buildReport, checkDrainAccepts, clean, emptyRecord, percentile, renderReport } from '../../src/sim/load/report.js';
import { parseShowSess, portIdentifier } from '../../src/sim/load/identify.js';
import { frontDoor, parseHostPort } from '../../src/sim/load/target.js';

const ctx = { frontDoor: ['127.0.0.1:1883'], durationMs: 10_000, ratePerS: 10, drain: { ended_by: 'complete' as const, ms: 5 } };

/** A client that published `published` messages, of which `acked` were PUBACKed, and received `got` (seq → count) from `from`. */
function client(index: number, o: { published?: number; acked?: number[]; from?: number; got?: Record<number, number>; protocol?: 5 | 4 } = {}): ClientRecord {
  const r = emptyRecord(index, `c${index}`, o.protocol ?? 5);
  r.published = o.published ?? 0;
  for (const s of o.acked ?? []) r.acked.add(s);
  if (o.got) r.received.set(o.from ?? index - 1, new Map(Object.entries(o.got).map(([k, v]) => [Number(k), v])));
  r.connectedAtEnd = true;
  return r;
}

describe('percentile (nearest rank)', () => {
  it('picks the ceil(p·n)-th smallest value', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
  });
  it('p99 of 200 values is the 198th, not the max', () => {
    const xs = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(xs, 99)).toBe(198);
    expect(percentile(xs, 50)).toBe(100);
  });
  it('is null for no values and the value itself for one', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([42], 99)).toBe(42);
  });
});

describe('buildReport: messages', () => {
  it('counts lost = PUBACKed and never delivered, and duplicates per extra receipt', () => {
    // c0 → c1: 5 published, 1..4 PUBACKed; c1 got 1 twice, 2, 4 three times (3 lost, 5 was never acked)
    // c1 → c0: 3 published, all acked, all delivered once
    const c0 = client(0, { published: 5, acked: [1, 2, 3, 4], from: 1, got: { 1: 1, 2: 1, 3: 1 } });
    const c1 = client(1, { published: 3, acked: [1, 2, 3], from: 0, got: { 1: 2, 2: 1, 4: 3 } });
    const r = buildReport([c0, c1], ctx);
    expect(r.messages).toEqual({ published: 8, acked: 7, unacked: 1, delivered: 6, lost: 1, duplicates: 3, held_for_gave_up: 0 });
    expect(r.lost_samples).toEqual([{ sender: 'c0', seq: 3 }]);
    expect(clean(r)).toBe(false);
  });

  it('a client that gave up is stranded by choice: apart from not_connected, its undelivered messages held, not lost', () => {
    // c0 → c1 → c2 → c0. c1 gave up after a DISCONNECT 0x9C: what c0 sent it and it never got is held.
    const c0 = client(0, { published: 3, acked: [1, 2, 3], from: 2, got: { 1: 1 } });
    const c1 = client(1, { published: 1, acked: [1], from: 0, got: { 1: 1 } });
    const c2 = client(2, { published: 2, acked: [1], from: 1, got: { 1: 1 } });
    c1.givesUp = true;
    c1.gaveUp = { at: 5, why: 'DISCONNECT 0x9C' };
    c1.connectedAtEnd = false;
    c1.disconnects.push({ at: 5, back: null, reasonCode: 0x9c });
    c2.givesUp = true; // in the mode, never met a refusal: an ordinary client
    const r = buildReport([c0, c1, c2], ctx);
    expect(r.messages).toMatchObject({ acked: 5, delivered: 3, lost: 0, held_for_gave_up: 2 });
    expect(r.clients).toMatchObject({ total: 3, connected_at_end: 2, not_connected: [], gave_up: 1 });
    expect(r.give_up).toEqual({ clients: 2, gave_up: 1, by: { 'DISCONNECT 0x9C': 1 }, ids: ['c1'] });
    expect(r.reconnects).toMatchObject({ disconnects: 1, never_back: 0, gave_up: 1 });
    expect(clean(r)).toBe(true);
    expect(renderReport(r)).toContain('1 of 2 give-up clients (DISCONNECT 0x9C × 1); 2 PUBACKed messages held for them');
    // A client not connected at the end that did not give up is stranded by a fault.
    c2.connectedAtEnd = false;
    const s = buildReport([c0, c1, c2], ctx);
    expect(s.clients.not_connected).toEqual(['c2']);
    expect(clean(s)).toBe(false);
  });

  it('a message delivered but never PUBACKed is neither lost nor unexplained', () => {
    const c0 = client(0, { published: 2, acked: [1], from: 1, got: {} });
    const c1 = client(1, { from: 0, got: { 1: 1, 2: 1 } });
    const r = buildReport([c0, c1], ctx);
    expect(r.messages).toMatchObject({ published: 2, acked: 1, unacked: 1, delivered: 2, lost: 0, duplicates: 0 });
    expect(clean(r)).toBe(true);
  });

  it('adds receipts of one sender over several receivers before deciding', () => {
    const c0 = client(0, { published: 3, acked: [1, 2, 3] });
    const a = client(1, { from: 0, got: { 1: 1 } });
    const b = client(2, { from: 0, got: { 2: 1, 1: 1 } });
    const r = buildReport([c0, a, b], ctx);
    expect(r.messages).toMatchObject({ delivered: 2, duplicates: 1, lost: 1 });
    expect(r.lost_samples).toEqual([{ sender: 'c0', seq: 3 }]);
  });

  it('a client not connected at the end makes the report unclean and is named', () => {
    const c0 = client(0);
    c0.connectedAtEnd = false;
    const r = buildReport([c0, client(1)], ctx);
    expect(r.clients).toMatchObject({ total: 2, connected_at_end: 1, not_connected: ['c0'] });
    expect(clean(r)).toBe(false);
  });
});

describe('buildReport: disconnects, refusals, stalls', () => {
  it('reconnect times per disconnect, reasons, server references, refusals by code', () => {
    const c0 = client(0, { protocol: 5 });
    c0.disconnects.push(
      { at: 1000, back: 1100, reasonCode: 0x9c, serverReference: '127.0.0.1:1883' },
      { at: 2000, back: 2300, reasonCode: 0x9c, serverReference: '127.0.0.1:1883' },
      { at: 3000, back: 3050, reasonCode: null },
    );
    c0.refusals.push({ at: 2100, protocol: 5, code: 0x9c, serverReference: '127.0.0.1:1883' });
    const c1 = client(1, { protocol: 4 });
    c1.disconnects.push({ at: 1000, back: 2000, reasonCode: null }, { at: 5000, back: null, reasonCode: null });
    c1.refusals.push({ at: 1500, protocol: 4, code: 3 });
    c1.refusals.push({ at: 1600, protocol: 4, code: 3 });
    const r = buildReport([c0, c1], ctx);
    // times: 100, 300, 50, 1000 → sorted 50, 100, 300, 1000
    expect(r.reconnects).toEqual({ disconnects: 5, reconnected: 4, never_back: 1, gave_up: 0, p50_ms: 100, p99_ms: 1000, max_ms: 1000 });
    expect(r.disconnect_reasons).toEqual({ '0x9C': 2, socket_closed: 3 });
    expect(r.server_references).toEqual({ '127.0.0.1:1883': 3 });
    expect(r.mqtt5_disconnects).toEqual({ with_reason: 2, with_server_reference: 2 });
    expect(r.connects_refused).toEqual({ '0x9C': 1, 'rc 3 (3.1.1)': 2 });
    const text = renderReport(r);
    expect(text).toContain('0x9C (use another server) × 2');
    expect(text).toContain('rc 3 (3.1.1) (server unavailable) × 2');
    expect(text).toContain('p50 100 ms, p99 1000 ms, max 1000 ms, 1 never back');
  });

  it('stall: max and p99 of the per-client longest PUBLISH → PUBACK waits', () => {
    const cs = Array.from({ length: 100 }, (_, i) => {
      const c = client(i);
      c.maxStallMs = i + 1; // 1..100
      return c;
    });
    cs[7]!.maxStallMs = 5000; // 8 becomes 5000: sorted 1..7, 9..100, 5000
    const r = buildReport(cs, ctx);
    expect(r.stall).toEqual({ max_ms: 5000, p99_ms: 100, p50_ms: 51 });
  });
});

describe('drain windows and CONNECTs accepted while draining', () => {
  const call = (t: number, node: string, method: string, status = 200, tEnd = t + 2) => ({ t, t_end: tEnd, system: 'node', node, method, path: '/v1/drain', status });

  it('a window runs from a successful PUT answered to the next DELETE received; repeated PUTs keep the first', () => {
    const w = drainWindows(
      [
        call(500, 'node-2', 'DELETE'), // a DELETE with no drain before it: no window
        call(1000, 'node-1', 'PUT'),
        call(1500, 'node-1', 'PUT'),
        call(2000, 'node-1', 'DELETE'),
        call(2500, 'node-2', 'PUT', 409), // refused: not a drain
        call(3000, 'node-2', 'PUT'),
        { t: 3100, system: 'node', node: 'node-2', method: 'GET', path: '/v1/drain', status: 200 },
        { t: 3200, system: 'lb', node: 'node-2', method: 'DELETE', path: '/v1/drain', status: 200 },
      ],
      9000,
    );
    expect(w).toEqual([
      { node: 'node-1', from: 1002, to: 2000 },
      { node: 'node-2', from: 3002, to: 9000 },
    ]);
  });

  it('counts an accept only when CONNECT and CONNACK both fall inside the window of the node that answered', () => {
    const windows = [{ node: 'node-1', from: 1000, to: 2000 }];
    const c = client(0);
    c.accepts.push(
      { sentAt: 1100, at: 1120, node: 'node-1', sessionPresent: true }, // inside: a violation
      { sentAt: 990, at: 1010, node: 'node-1', sessionPresent: true }, // straddles the start: undecidable
      { sentAt: 1100, at: 1120, node: 'node-2', sessionPresent: true }, // another node
      { sentAt: 2100, at: 2110, node: 'node-1', sessionPresent: true }, // after the window
      { sentAt: 1500, at: 1510, sessionPresent: true }, // no identity
    );
    expect(checkDrainAccepts([c], windows)).toEqual({
      checked: 4,
      unidentified: 1,
      accepted_while_draining: 1,
      borderline: 1,
      samples: [{ client: 'c0', node: 'node-1', sent_at: 1100, connack_at: 1120 }],
    });
    expect(checkDrainAccepts([c], null)).toBeNull();
    const r = buildReport([c], { ...ctx, drainWindows: windows });
    expect(clean(r)).toBe(false);
  });
});

describe('the end of a roll from its journal', () => {
  it('waits for a run that is over and is not the one already over at the start', () => {
    const done = { run_id: 'a', status: 'done' };
    expect(rollEnded(null, null)).toBe(false);
    expect(rollEnded(null, { run_id: 'b', status: 'running' })).toBe(false);
    expect(rollEnded(null, { run_id: 'b', status: 'failed' })).toBe(true);
    expect(rollEnded(done, done)).toBe(false);
    expect(rollEnded(done, { run_id: 'b', status: 'done' })).toBe(true);
    expect(rollEnded({ run_id: 'a', status: 'running' }, { run_id: 'a', status: 'interrupted' })).toBe(true);
  });
});

describe('front door and Server References', () => {
  it('parses host:port, [v6]:port, URLs and the first of several references', () => {
    expect(parseHostPort('127.0.0.1:1883')).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(parseHostPort('mqtt-b.example.net')).toEqual({ host: 'mqtt-b.example.net', port: 1883 });
    expect(parseHostPort('[::1]:8883')).toEqual({ host: '::1', port: 8883 });
    expect(parseHostPort('mqtt://b.example:1884/x')).toEqual({ host: 'b.example', port: 1884 });
    expect(parseHostPort('a.example:1 b.example:2')).toEqual({ host: 'a.example', port: 1 });
    expect(parseHostPort('')).toBeNull();
    expect(parseHostPort('host:0')).toBeNull();
    expect(parseHostPort('host:http')).toBeNull();
    expect(parseHostPort('::1:8883')).toBeNull();
  });

  it('prefers --front-door, then the HAProxy frontend, then every node', () => {
    const info = {
      pid: 1,
      cpUrl: '',
      lbUrl: '',
      controlUrl: '',
      stateDir: '/s',
      configPath: '',
      virtualNodes: false,
      options: {},
      startedAt: '',
      nodes: [
        { id: 'node-1', adminUrl: '', mqttPort: 2001, rack: 'r1', pid: 1 },
        { id: 'node-2', adminUrl: '', mqttPort: 2002, rack: 'r2', pid: 2 },
      ],
    };
    expect(frontDoor('10.0.0.1:1883', info).targets).toEqual([{ host: '10.0.0.1', port: 1883 }]);
    expect(frontDoor(undefined, { ...info, haproxy: { socket: '/s/haproxy.sock', frontendPort: 3000, pid: 3 } })).toEqual({
      targets: [{ host: '127.0.0.1', port: 3000 }],
      kind: 'haproxy',
      haproxySocket: '/s/haproxy.sock',
    });
    const direct = frontDoor(undefined, info);
    expect(direct.kind).toBe('nodes');
    expect(direct.targets.map((t) => t.port)).toEqual([2001, 2002]);
    expect(direct.nodeByPort).toEqual(new Map([[2001, 'node-1'], [2002, 'node-2']]));
    expect(() => frontDoor('nope:x', info)).toThrow(/--front-door must be host:port/);
    expect(() => frontDoor(undefined, null)).toThrow(/--front-door/);
  });
});

describe('reconnect backoff', () => {
  const b = { baseMs: 100, maxMs: 5000 };
  it('the first attempt is a jitter below the base; later ones are equal jitter of the capped exponential', () => {
    expect(backoffDelay(0, b, () => 0)).toBe(0);
    expect(backoffDelay(0, b, () => 0.999)).toBeCloseTo(99.9);
    expect(backoffDelay(1, b, () => 0)).toBe(100); // d = 200: [100, 200)
    expect(backoffDelay(1, b, () => 0.999)).toBeCloseTo(199.9);
    expect(backoffDelay(3, b, () => 0.5)).toBe(600); // d = 800: 400 + 200
    expect(backoffDelay(20, b, () => 0)).toBe(2500); // capped at 5000
    expect(backoffDelay(20, b, () => 0.999)).toBeLessThan(5000);
  });
});

describe('command input', () => {
  it('durations and the protocol mix', () => {
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('1.5')).toBe(1500);
    expect(() => parseDurationMs('soon')).toThrow(/duration/);
    expect(parseMix('2:1')).toEqual({ v5: 2, v311: 1 });
    expect(parseMix('1:0')).toEqual({ v5: 1, v311: 0 });
    expect(() => parseMix('0:0')).toThrow(/--mix/);
  });
});

describe('which node took a link', () => {
  it('reads the server per client source port from HAProxy 2.6 `show sess`', () => {
    const text = [
      '0x55a8cae85550: proto=tcpv4 src=127.0.0.1:41410 fe=fe_mqtt be=mqtt srv=node-1 ts=00 epoch=0 age=0s calls=2 rate=2 cpu=0 lat=0 rq[f=848202h,i=0,an=00h,rx=59s,wx=,ax=] rp[f=80048202h,i=0,an=00h,rx=59s,wx=,ax=] scf=[8,0h,fd=11] scb=[8,1h,fd=12] exp=1s rc=0 c_exp=',
      '0x55a8cae85990: proto=tcpv4 src=127.0.0.1:41412 fe=fe_mqtt be=mqtt srv=node-3 ts=00 epoch=0 age=3s calls=9 rate=0 cpu=0 lat=0 rq[f=848202h] exp=1s rc=0 c_exp=',
      '0x55a8cae85aa0: proto=tcpv4 src=127.0.0.1:41413 fe=fe_mqtt be=mqtt srv=<none> ts=00 epoch=0 age=0s calls=1 rate=1 cpu=0 lat=0 exp=1s rc=0 c_exp=',
      '0x7eff5c04b020: proto=unix_stream src=unix:1 fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 age=0s calls=1 rate=0 cpu=0 lat=0 exp= rc=0 c_exp=',
      '',
    ].join('\n');
    expect(parseShowSess(text)).toEqual(
      new Map([
        [41410, 'node-1'],
        [41412, 'node-3'],
      ]),
    );
  });

  it('straight to the nodes, the port connected to names the node', async () => {
    const a = { localPort: 50000, remotePort: 2001 };
    const b = { localPort: 50001, remotePort: 9999 };
    const found = await portIdentifier(new Map([[2001, 'node-1']])).lookup([a, b]);
    expect(found.get(a)).toBe('node-1');
    expect(found.has(b)).toBe(false);
  });
});
