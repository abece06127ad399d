// Contract shapes of every endpoint the simulator serves (apis.md), against a real sim.
import fs from 'node:fs/promises';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import { del, get, post, put, sleep, tempDir, waitFor } from '../support/http.js';
import * as S from '../support/schemas.js';

let sim: SimHandle;

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), nodes: 5, racks: 3, prgs: 600, replayMs: 300 });
});
afterAll(async () => {
  await sim?.stop();
});

const node = (i: number): string => sim.nodes[i]?.adminUrl ?? '';

describe('node runtime API', () => {
  it('livez, readyz, listener, node', async () => {
    expect((await get(`${node(0)}/livez`)).json).toEqual({ status: 'ok' });
    const r = await get(`${node(0)}/readyz`);
    expect(r.status).toBe(200);
    const body = S.readyz.parse(r.json);
    expect(body).toMatchObject({ ready: true, reasons: [], node_id: 'node-1', draining: false });
    expect(body.listeners[0]).toMatchObject({ name: 'mqtt', port: sim.nodes[0]?.mqttPort, max_sessions: 50000 });
    expect(body.prgs.total).toBeGreaterThan(0);
    const l = await get(`${node(0)}/readyz/listeners/mqtt`);
    expect(l.status).toBe(200);
    S.listener.parse(l.json);
    const unknown = await get(`${node(0)}/readyz/listeners/nope`);
    expect(unknown.status).toBe(404);
    S.errorBody.parse(unknown.json);
    S.nodeInfo.parse((await get(`${node(0)}/v1/node`)).json);
  });

  it('drain PUT/GET/DELETE are idempotent, listener goes 503, disconnect validates', async () => {
    const base = node(4);
    const notDraining = await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 100 });
    expect(notDraining.status).toBe(409);
    expect(S.errorBody.parse(notDraining.json).error.code).toBe('not_draining');
    const d1 = S.drainStatus.parse((await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test@host:1' })).json);
    expect(d1).toMatchObject({ draining: true, reason: 'rolling-restart', initiator: 'test@host:1' });
    const d2 = S.drainStatus.parse((await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test@host:1' })).json);
    expect(d2.since).toBe(d1.since);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(S.readyz.parse(ready.json).reasons).toEqual(['draining']);
    expect((await get(`${base}/readyz/listeners/mqtt`)).status).toBe(503);
    const bad = await post(`${base}/v1/sessions/disconnect`, { reason_code: 136, rate_per_s: 100 });
    expect(bad.status).toBe(400);
    expect(S.errorBody.parse(bad.json).error.code).toBe('invalid_reason_code');
    expect((await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 0 })).status).toBe(400);
    const ok = await post(`${base}/v1/sessions/disconnect`, { reason_code: 156, server_reference: 'other:1883', rate_per_s: 100000 });
    expect(ok.status).toBe(202);
    expect(ok.json).toMatchObject({ requested: expect.any(Number) });
    await waitFor(async () => S.drainStatus.parse((await get(`${base}/v1/drain`)).json).active_sessions === 0, 10_000);
    const metrics = (await get(`${base}/metrics`)).text;
    for (const m of [
      'quantum_mqtt_active_sessions{listener="mqtt"}',
      'quantum_drain_active{reason="rolling-restart"} 1',
      'quantum_prg_total',
      'quantum_prg_ready',
      'quantum_prg_replaying',
      'quantum_prg_strict_fallback',
      'quantum_replay_progress_ratio',
      'quantum_cp_cache_age_seconds',
      'quantum_disconnects_total{reason_code="139",cause="drain"}',
    ]) {
      expect(metrics).toContain(m);
    }
    const cleared = S.drainStatus.parse((await del(`${base}/v1/drain`)).json);
    expect(cleared).toMatchObject({ draining: false, since: null, reason: null, initiator: null });
    expect(S.drainStatus.parse((await del(`${base}/v1/drain`)).json).draining).toBe(false);
  });
});

// A minimal MQTT 3.1.1 CONNECT (clean session, keepalive 60): no client library between
// the test and what the listener answers.
const connectPacket = (clientId: string): Buffer => {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 60, 0, id.length]), id]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
};
/** Opens a socket, sends CONNECT, resolves with the socket and the CONNACK's return code. */
const mqttConnect = (port: number, clientId: string): Promise<{ socket: net.Socket; rc: number }> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(connectPacket(clientId)));
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length < 4) return;
      socket.off('data', onData);
      socket.resume(); // keep reading, so that the server's close is seen
      if (got[0] !== 0x20 || got[1] !== 2) return reject(new Error(`not a CONNACK: ${got.toString('hex')}`));
      resolve({ socket, rc: got[3] ?? -1 });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a CONNACK (read ${got.toString('hex')})`)));
  });
const closed = (s: net.Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('MQTT listener, byte by byte', () => {
  const metric = async (base: string, name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await get(`${base}/metrics`)).text)?.[1]);
  const tcp = (base: string): Promise<number> => metric(base, 'quantum_sim_tcp_connections');

  it('counts connections as sessions, refuses a CONNECT while draining (CONNACK 3), disconnect closes them', async () => {
    const base = node(3);
    const port = sim.nodes[3]?.mqttPort ?? 0;
    const conns = await Promise.all(['raw-1', 'raw-2', 'raw-3'].map((id) => mqttConnect(port, id)));
    expect(conns.map((c) => c.rc)).toEqual([0, 0, 0]);
    await waitFor(async () => (await tcp(base)) === 3);
    expect(await metric(base, 'quantum_sim_mqtt_clients')).toBe(3);
    // active_sessions adds the simulated sessions (which come and go) to the real ones
    const r = S.readyz.parse((await get(`${base}/readyz`)).json);
    expect(r.listeners[0]?.active_sessions).toBeGreaterThanOrEqual(3);
    await put(`${base}/v1/drain`, { reason: 'tcp', initiator: 't' });
    const late = await mqttConnect(port, 'raw-late');
    expect(late.rc).toBe(3); // MQTT 3.1.1 has no "use another server": "server unavailable"
    await closed(late.socket);
    await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 100000 });
    await Promise.all(conns.map((c) => closed(c.socket)));
    await waitFor(async () => (await tcp(base)) === 0); // the server side closes them too
    expect(await metric(base, 'quantum_sim_mqtt_clients')).toBe(0);
    await waitFor(async () => S.drainStatus.parse((await get(`${base}/v1/drain`)).json).active_sessions === 0);
    await del(`${base}/v1/drain`);
  });
});

describe('control plane API', () => {
  it('readyz, cluster state, features', async () => {
    const r = await get(`${sim.cpUrl}/readyz`);
    expect(r.status).toBe(200);
    S.cpObject.parse(r.json);
    const cs = S.clusterState.parse((await get(`${sim.cpUrl}/v1/cluster/state`)).json);
    expect(cs.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5']);
    expect(cs.nodes.map((n) => n.rack)).toEqual(['r1', 'r2', 'r3', 'r1', 'r2']);
    expect(cs.prgs).toEqual({ total: 600, ready: 600, strict_fallback: 0 });
    expect(cs.placement).toEqual({ policy: 'one_replica_per_rack', violations: 0 });
    expect(cs.nodes[0]?.mqtt_endpoint).toBe(`127.0.0.1:${sim.nodes[0]?.mqttPort}`);
    expect(S.features.parse((await get(`${sim.cpUrl}/v1/features`)).json)).toEqual({ batch_leader_transfer: true });
  });

  it('lists every PRG once by following next_cursor; filters; limit bounds', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    const cursors = new Set<string>();
    do {
      const url: string = `${sim.cpUrl}/v1/prgs?limit=128${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = S.prgList.parse((await get(url)).json);
      for (const p of page.items) {
        expect(seen.has(p.id)).toBe(false);
        seen.add(p.id);
        expect(p.replicas).toHaveLength(3);
        expect(new Set(p.replicas.map((x) => sim.nodes.find((n) => n.id === x.node)?.rack)).size).toBe(3);
        expect(p.replicas.filter((x) => x.role === 'leader').map((x) => x.node)).toEqual([p.leader]);
      }
      cursor = page.next_cursor;
      if (cursor) {
        expect(cursors.has(cursor)).toBe(false);
        cursors.add(cursor);
      }
    } while (cursor);
    expect(seen.size).toBe(600);
    expect([...seen].sort()[0]).toBe('prg-0001');
    expect((await get(`${sim.cpUrl}/v1/prgs?limit=0`)).status).toBe(400);
    expect((await get(`${sim.cpUrl}/v1/prgs?limit=1001`)).status).toBe(400);
    expect((await get(`${sim.cpUrl}/v1/prgs?cursor=garbage`)).status).toBe(400);
    const def = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs`)).json);
    expect(def.items).toHaveLength(500);
    const onNode = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?node=node-3&limit=1000`)).json);
    expect(onNode.items.length).toBe(600); // rack r3 has only node-3
    const led = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?leader=node-2&limit=1000`)).json);
    expect(led.items.length).toBeGreaterThan(80);
    expect(led.items.every((p) => p.leader === 'node-2')).toBe(true);
    S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0007`)).json);
    expect((await get(`${sim.cpUrl}/v1/prgs/prg-9999`)).status).toBe(404);
  });

  it('per-PRG leader transfer: to, exclude, already satisfied, no eligible target', async () => {
    const p = S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0010`)).json);
    const from = p.leader ?? '';
    const follower = p.replicas.find((r) => r.role === 'follower')?.node ?? '';
    const same = await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, { to: from });
    expect(S.transfer.parse(same.json)).toEqual({ prg_id: 'prg-0010', from, to: from });
    const notExcluded = await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, { exclude: ['node-9'] });
    expect(S.transfer.parse(notExcluded.json).to).toBe(from);
    const r = await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, { to: follower });
    expect(r.status).toBe(202);
    expect(S.transfer.parse(r.json)).toEqual({ prg_id: 'prg-0010', from, to: follower });
    await waitFor(async () => S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0010`)).json).leader === follower, 10_000);
    const others = p.replicas.map((x) => x.node);
    const none = await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, { exclude: others });
    expect(none.status).toBe(409);
    expect(S.errorBody.parse(none.json).error.code).toBe('no_eligible_target');
    const notReplica = sim.nodes.map((n) => n.id).find((id) => !others.includes(id)) ?? '';
    expect((await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, { to: notReplica })).status).toBe(409);
    expect((await post(`${sim.cpUrl}/v1/prgs/prg-9999/leader-transfer`, { to: from })).status).toBe(404);
    expect((await post(`${sim.cpUrl}/v1/prgs/prg-0010/leader-transfer`, {})).status).toBe(400);
  });

  it('batch leader transfer empties a node', async () => {
    const r = await post(`${sim.cpUrl}/v1/leader-transfers`, { away_from: 'node-1', exclude: ['node-5'], max_parallel: 16 });
    expect(r.status).toBe(202);
    const b = S.batch.parse(r.json);
    expect(b.total).toBeGreaterThan(0);
    const done = await waitFor(async () => {
      const s = S.batch.parse((await get(`${sim.cpUrl}/v1/leader-transfers/${b.id}`)).json);
      return s.state !== 'running' ? s : null;
    }, 10_000);
    expect(done).toMatchObject({ state: 'done', done: b.total, failed: [] });
    const led = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?leader=node-1`)).json);
    expect(led.items).toEqual([]);
    expect((await get(`${sim.cpUrl}/v1/leader-transfers/lt-999`)).status).toBe(404);
    expect((await post(`${sim.cpUrl}/v1/leader-transfers`, { away_from: 'node-99' })).status).toBe(404);
  });

  it('leases: create, held, renew, lost, release, expire', async () => {
    const a = await post(`${sim.cpUrl}/v1/leases`, { name: 'rolling-restart', holder: 'a@h:1', ttl_ms: 30000 });
    expect(a.status).toBe(201);
    const la = S.leaseCreated.parse(a.json);
    const held = await post(`${sim.cpUrl}/v1/leases`, { name: 'rolling-restart', holder: 'b@h:2', ttl_ms: 30000 });
    expect(held.status).toBe(409);
    expect(S.leaseHeld.parse(held.json)).toMatchObject({ error: { code: 'lease_held' }, holder: 'a@h:1' });
    const info = await get(`${sim.cpUrl}/v1/leases/rolling-restart`);
    expect(S.leaseInfo.parse(info.json).holder).toBe('a@h:1');
    expect(info.json).not.toHaveProperty('token');
    expect((await put(`${sim.cpUrl}/v1/leases/rolling-restart`, { token: la.token, ttl_ms: 30000 })).status).toBe(200);
    const lost = await put(`${sim.cpUrl}/v1/leases/rolling-restart`, { token: 'nope', ttl_ms: 30000 });
    expect(lost.status).toBe(409);
    expect(S.errorBody.parse(lost.json).error.code).toBe('lease_lost');
    const wrongDel = await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=nope`);
    expect(wrongDel.status).toBe(409);
    expect(S.errorBody.parse(wrongDel.json).error.code).toBe('lease_held');
    expect((await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=${la.token}`)).status).toBe(204);
    expect((await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=${la.token}`)).status).toBe(204);
    const free = await get(`${sim.cpUrl}/v1/leases/rolling-restart`);
    expect(free.status).toBe(404);
    expect(S.errorBody.parse(free.json).error.code).toBe('no_lease');
    const short = S.leaseCreated.parse((await post(`${sim.cpUrl}/v1/leases`, { name: 'short', holder: 'c@h:3', ttl_ms: 150 })).json);
    await sleep(250);
    expect((await get(`${sim.cpUrl}/v1/leases/short`)).status).toBe(404);
    const renewExpired = await put(`${sim.cpUrl}/v1/leases/short`, { token: short.token, ttl_ms: 1000 });
    expect(S.errorBody.parse(renewExpired.json).error.code).toBe('lease_lost');
  });
});

describe('LB pool API', () => {
  it('member shape, admin state, errors', async () => {
    const m = S.lbMember.parse((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-2`)).json);
    expect(m).toMatchObject({ member: 'node-2', admin_state: 'enabled', health: 'up', address: `127.0.0.1:${sim.nodes[1]?.mqttPort}` });
    expect(m.active_connections).toBeGreaterThan(0);
    const d = await put(`${sim.lbUrl}/v1/pools/mqtt/members/node-2/admin-state`, { admin_state: 'draining' });
    expect(S.lbMember.parse(d.json).admin_state).toBe('draining');
    expect((await put(`${sim.lbUrl}/v1/pools/mqtt/members/node-2/admin-state`, { admin_state: 'bogus' })).status).toBe(400);
    expect((await put(`${sim.lbUrl}/v1/pools/mqtt/members/node-2/admin-state`, { admin_state: 'enabled' })).status).toBe(200);
    expect((await get(`${sim.lbUrl}/v1/pools/other/members/node-2`)).status).toBe(404);
    expect((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-77`)).status).toBe(404);
  });
});

describe('recording', () => {
  it('calls.ndjson has one line per request with system, node, body and status', async () => {
    await put(`${node(1)}/v1/drain`, { reason: 'rec', initiator: 't' });
    await del(`${node(1)}/v1/drain`);
    // A node appends its record just after answering: wait until the DELETE is on file.
    const calls = await waitFor(async () => {
      const all = await sim.calls();
      return all.some((c) => c.node === 'node-2' && c.method === 'DELETE' && c.path === '/v1/drain') ? all : undefined;
    });
    const text = await fs.readFile(`${sim.stateDir}/calls.ndjson`, 'utf8');
    expect(text.trim().split('\n').length).toBe(calls.length);
    const drain = calls.find((c) => c.system === 'node' && c.method === 'PUT' && c.path === '/v1/drain' && c.node === 'node-2');
    expect(drain).toMatchObject({ status: 200, body: { reason: 'rec', initiator: 't' } });
    const lbPut = calls.find((c) => c.system === 'lb' && c.method === 'PUT');
    expect(lbPut).toMatchObject({ node: 'node-2', path: '/v1/pools/mqtt/members/node-2/admin-state', body: { admin_state: 'draining' } });
    expect(calls.some((c) => c.system === 'cp' && c.path === '/v1/prgs?limit=128')).toBe(true);
    const ts = calls.map((c) => c.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    expect(calls.some((c) => c.path.startsWith('/_sim'))).toBe(false);
    expect(calls.filter((c) => c.system === 'node' && c.path === '/readyz').length).toBeLessThan(10); // LB checks not recorded
    const events = await sim.events();
    expect(events.some((e) => e.event === 'transfer_done')).toBe(true);
    expect(events.some((e) => e.event === 'drain_on' && e.node === 'node-5')).toBe(true); // seen via heartbeats
  });
});

describe('POST/GET /v1/sessions/disconnect with real MQTT clients', () => {
  // A cluster of real clients only (no modelled sessions): every count below is exact.
  let own: SimHandle;
  beforeAll(async () => {
    own = await startSim({ stateDir: await tempDir(), nodes: 3, racks: 1, prgs: 30, replayMs: 0, sessionsPerNode: 0 });
  }, 60_000);
  afterAll(async () => {
    await own?.stop();
  });
  const progress = z.object({
    in_progress: z.boolean(),
    requested: z.number().int(),
    disconnected: z.number().int(),
    rate_per_s: z.number().int().nullable(),
    reason_code: z.number().int().nullable(),
    started_at: z.string().nullable(),
  });
  const status = async (base: string) => progress.parse((await get(`${base}/v1/sessions/disconnect`)).json);
  const sessions = async (base: string) => S.drainStatus.parse((await get(`${base}/v1/drain`)).json).active_sessions;
  const connectMany = async (port: number, prefix: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => mqttConnect(port, `${prefix}-${i}`)));
  const open = (cs: { socket: net.Socket }[]) => cs.filter((c) => !c.socket.destroyed).length;

  it('GET before any request is the all-null form; limit, replacement and limit 0 as the contract says', async () => {
    const n = own.nodes[0];
    const base = n?.adminUrl ?? '';
    expect(await status(base)).toEqual({ in_progress: false, requested: 0, disconnected: 0, rate_per_s: null, reason_code: null, started_at: null });
    const conns = await connectMany(n?.mqttPort ?? 0, 'lim', 6);
    expect(conns.map((c) => c.rc)).toEqual([0, 0, 0, 0, 0, 0]);
    await waitFor(async () => (await sessions(base)) === 6);
    await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test' });

    // limit 2: exactly two of the six go, the request ends, the other four stay.
    const first = await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 100000, limit: 2 });
    expect(first.status).toBe(202);
    expect(first.json).toEqual({ requested: 2 });
    const done = await waitFor(async () => {
      const s = await status(base);
      return s.in_progress ? null : s;
    });
    expect(done).toMatchObject({ in_progress: false, requested: 2, disconnected: 2, rate_per_s: 100000, reason_code: 139 });
    expect(Number.isNaN(Date.parse(done.started_at ?? ''))).toBe(false);
    expect(await sessions(base)).toBe(4);
    await waitFor(async () => open(conns) === 4);

    // A slow request over the four, then a new one replaces it: its rate and limit apply from then on.
    const slow = await post(`${base}/v1/sessions/disconnect`, { reason_code: 156, server_reference: 'elsewhere:1883', rate_per_s: 1 });
    expect(slow.json).toEqual({ requested: 4 });
    expect(await status(base)).toMatchObject({ in_progress: true, requested: 4, rate_per_s: 1, reason_code: 156 });
    const stop = await post(`${base}/v1/sessions/disconnect`, { reason_code: 156, rate_per_s: 1, limit: 0 });
    expect(stop.status).toBe(202);
    expect(stop.json).toEqual({ requested: 0 });
    // limit 0 stops the slow request; what it disconnected before (the record says how many) stays so.
    expect(await status(base)).toMatchObject({ in_progress: false, requested: 0, disconnected: 0, rate_per_s: 1 });
    const ended = await waitFor(async () => (await own.events()).find((e) => e.event === 'disconnect_end' && e.node === 'node-1' && e.why === 'replaced'));
    const gone = Number(ended.disconnected);
    expect(ended).toMatchObject({ requested: 4, rate_per_s: 1 });
    await waitFor(async () => open(conns) === 4 - gone);
    expect(await sessions(base)).toBe(4 - gone);

    // A request with a limit above what is connected asks for what is there, and takes it all.
    const rest = await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 100000, limit: 1000 });
    expect(rest.json).toEqual({ requested: 4 - gone });
    await waitFor(async () => !(await status(base)).in_progress);
    expect(await status(base)).toMatchObject({ requested: 4 - gone, disconnected: 4 - gone });
    await waitFor(async () => open(conns) === 0);
    expect(await sessions(base)).toBe(0);

    // Every request is in the record with its body and time, and as an event with what it asked for.
    const calls = (await own.calls()).filter((c) => c.node === 'node-1' && c.method === 'POST' && c.path === '/v1/sessions/disconnect');
    expect(calls.map((c) => [c.body, c.status])).toEqual([
      [{ reason_code: 139, rate_per_s: 100000, limit: 2 }, 202],
      [{ reason_code: 156, server_reference: 'elsewhere:1883', rate_per_s: 1 }, 202],
      [{ reason_code: 156, rate_per_s: 1, limit: 0 }, 202],
      [{ reason_code: 139, rate_per_s: 100000, limit: 1000 }, 202],
    ]);
    const requests = (await own.events()).filter((e) => e.event === 'disconnect_request' && e.node === 'node-1');
    expect(requests.map((e) => [e.rate_per_s, e.limit, e.requested])).toEqual([
      [100000, 2, 2],
      [1, null, 4],
      [1, 0, 0],
      [100000, 1000, 4 - gone],
    ]);
    await del(`${base}/v1/drain`);
  });

  it('400 names the bad field, 409 when not draining, undraining ends a request', async () => {
    const n = own.nodes[1];
    const base = n?.adminUrl ?? '';
    const code = async (body: unknown) => {
      const r = await post(`${base}/v1/sessions/disconnect`, body);
      return [r.status, S.errorBody.parse(r.json).error.code, S.errorBody.parse(r.json).error.message];
    };
    expect(await code({ reason_code: 139, rate_per_s: 100 })).toEqual([409, 'not_draining', expect.any(String)]);
    await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test' });
    expect(await code({ reason_code: 136, rate_per_s: 100 })).toEqual([400, 'invalid_reason_code', expect.stringContaining('reason_code')]);
    expect(await code({ rate_per_s: 100 })).toEqual([400, 'invalid_reason_code', expect.stringContaining('reason_code')]);
    for (const rate of [0, 100001, 1.5, '10', null]) {
      expect(await code({ reason_code: 139, rate_per_s: rate })).toEqual([400, 'invalid_rate', expect.stringContaining('rate_per_s')]);
    }
    for (const limit of [-1, 10000001, 2.5, '3', true]) {
      expect(await code({ reason_code: 139, rate_per_s: 10, limit })).toEqual([400, 'invalid_limit', expect.stringContaining('limit')]);
    }
    expect(await code({ reason_code: 156, rate_per_s: 10, server_reference: 5 })).toEqual([400, 'invalid_server_reference', expect.stringContaining('server_reference')]);
    expect(await code([1])).toEqual([400, 'invalid_body', expect.any(String)]);
    // No bad request started anything.
    expect((await status(base)).rate_per_s).toBeNull();
    expect((await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 10, limit: 10000000 })).status).toBe(202);

    // A client that stays, a request that would take it slowly, and a DELETE of the drain: the request ends.
    const c = await mqttConnect(n?.mqttPort ?? 0, 'undrain-1');
    expect(c.rc).toBe(3); // draining: refused
    await del(`${base}/v1/drain`);
    const kept = await mqttConnect(n?.mqttPort ?? 0, 'undrain-2');
    expect(kept.rc).toBe(0);
    await waitFor(async () => (await sessions(base)) === 1);
    await put(`${base}/v1/drain`, { reason: 'rolling-restart', initiator: 'test' });
    expect((await post(`${base}/v1/sessions/disconnect`, { reason_code: 139, rate_per_s: 1 })).json).toEqual({ requested: 1 });
    await del(`${base}/v1/drain`);
    expect(await status(base)).toMatchObject({ in_progress: false, requested: 1 });
    const end = await waitFor(async () => (await own.events()).find((e) => e.event === 'disconnect_end' && e.node === 'node-2' && e.why === 'undrained'));
    expect(end).toMatchObject({ requested: 1 });
    kept.socket.destroy();
  });
});
