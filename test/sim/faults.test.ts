// Fault knobs, set at run time through the handle and the control API.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultFaults, startSim, type SimHandle } from '../../src/sim/index.js';
import { del, get, post, sleep, tempDir, waitFor } from '../support/http.js';
import * as S from '../support/schemas.js';

let sim: SimHandle;
const simCli = path.resolve(import.meta.dirname, '../../dist/sim/sim-cli.js');
/** The generated config's restart command: the small entry, without a CLI around it. */
const restartEntry = path.resolve(import.meta.dirname, '../../dist/sim/restart-node.js');

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), nodes: 4, racks: 3, prgs: 60, replayMs: 200 });
});
afterAll(async () => {
  await sim?.stop();
});
afterEach(async () => {
  await sim.setFaults(defaultFaults());
});

function runCli(
  args: string[],
  killAfterMs = 15_000,
  killWhen?: () => Promise<boolean>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // `sim restart-node …` also runs as the small entry (restart-node.js …), as the generated config does.
  const argv = args[0] === 'restart-node.js' ? [restartEntry, ...args.slice(1)] : [simCli, ...args];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (killWhen) void waitFor(killWhen, killAfterMs).then(() => child.kill('SIGKILL'), () => undefined);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const bootId = async (i: number): Promise<string> => S.nodeInfo.parse((await get(`${sim.nodes[i]?.adminUrl}/v1/node`)).json).boot_id;

describe('CP faults', () => {
  it('noBatch: features false and the batch endpoint 404s', async () => {
    await sim.setFaults({ noBatch: true });
    expect((await get(`${sim.cpUrl}/v1/features`)).json).toEqual({ batch_leader_transfer: false });
    expect((await post(`${sim.cpUrl}/v1/leader-transfers`, { away_from: 'node-1' })).status).toBe(404);
  });

  it('cursorLoop: next_cursor repeats forever', async () => {
    await sim.setFaults({ cursorLoop: true });
    const first = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?limit=10`)).json);
    expect(first.next_cursor).not.toBeNull();
    const second = S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?limit=10&cursor=${first.next_cursor}`)).json);
    expect(second.next_cursor).toBe(first.next_cursor);
  });

  it('cpUnavailable and cpFlakyRatio answer 503 with Retry-After', async () => {
    await sim.setFaults({ cpUnavailable: true });
    const r = await get(`${sim.cpUrl}/v1/cluster/state`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    S.errorBody.parse(r.json);
    await sim.setFaults({ cpUnavailable: false, cpFlakyRatio: 1 });
    const f = await get(`${sim.cpUrl}/readyz`);
    expect(f.status).toBe(503);
    expect(f.headers.get('retry-after')).toBe('0');
  });

  it('cpUnhealthy: /readyz 503 with the cp body', async () => {
    await sim.setFaults({ cpUnhealthy: true });
    const r = await get(`${sim.cpUrl}/readyz`);
    expect(r.status).toBe(503);
    expect(S.cpObject.parse(r.json).healthy).toBe(false);
  });

  it('cpMalformed: wrong type, removed field, invalid JSON', async () => {
    await sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'routing_epoch' } });
    expect((await get(`${sim.cpUrl}/v1/cluster/state`)).json).toMatchObject({ routing_epoch: 'x' });
    await sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'nodes.0.id', mode: 'remove' } });
    const body = (await get(`${sim.cpUrl}/v1/cluster/state`)).json as { nodes: Array<Record<string, unknown>> };
    expect(body.nodes[0]).not.toHaveProperty('id');
    await sim.setFaults({ cpMalformed: { path: '/v1/prgs' } });
    const bad = await get(`${sim.cpUrl}/v1/prgs`);
    expect(bad.status).toBe(200);
    expect(bad.json).toBeUndefined();
  });

  it('hugeBodyBytes, hostileNodeId, strictFallback, placementViolation', async () => {
    await sim.setFaults({ hugeBodyBytes: 2_000_000, hostileNodeId: true, strictFallback: 2, placementViolation: true });
    const r = await get(`${sim.cpUrl}/v1/cluster/state`);
    expect(r.text.length).toBeGreaterThanOrEqual(2_000_000);
    const cs = r.json as { nodes: Array<{ id: string }>; prgs: { strict_fallback: number }; placement: { violations: number } };
    expect(cs.nodes[0]?.id).toBe('node-1;reboot');
    expect(cs.prgs.strict_fallback).toBe(2);
    expect(cs.placement.violations).toBe(1);
    const p1 = S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0001`)).json);
    expect(p1.strict_fallback).toBe(true);
    const racks = p1.replicas.map((x) => sim.nodes.find((n) => n.id === x.node)?.rack);
    expect(new Set(racks).size).toBeLessThan(3);
    await sim.setFaults({ placementViolation: false, hostileNodeId: false });
    expect(S.clusterState.parse((await get(`${sim.cpUrl}/v1/cluster/state`)).json).placement.violations).toBe(0);
  });

  it('leaseHeldBy: the maintenance lease is held by a stranger', async () => {
    await sim.setFaults({ leaseHeldBy: 'someone@host:1' });
    const r = await post(`${sim.cpUrl}/v1/leases`, { name: 'rolling-restart', holder: 'me@here:2', ttl_ms: 1000 });
    expect(r.status).toBe(409);
    expect(S.leaseHeld.parse(r.json).holder).toBe('someone@host:1');
    // Clearing the knob: the stranger releases at once, and the lease can be taken.
    await sim.setFaults({ leaseHeldBy: null });
    expect((await get(`${sim.cpUrl}/v1/leases/rolling-restart`)).status).toBe(404);
    const mine = await post(`${sim.cpUrl}/v1/leases`, { name: 'rolling-restart', holder: 'me@here:2', ttl_ms: 1000 });
    expect(mine.status).toBe(201);
    const token = (mine.json as { token: string }).token;
    expect((await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=${token}`)).status).toBe(204);
  });

  it('cpDropAnswer: the CP acts, then resets the connection instead of answering (times, then answers again)', async () => {
    await sim.setFaults({ cpDropAnswer: { method: 'POST', path: '/v1/leases', times: 2 } });
    const body = { name: 'rolling-restart', holder: 'lost@answer:1', ttl_ms: 5000 };
    await expect(post(`${sim.cpUrl}/v1/leases`, body)).rejects.toThrow();
    // Acted: the lease is taken although no answer came.
    expect(S.leaseInfo.parse((await get(`${sim.cpUrl}/v1/leases/rolling-restart`)).json).holder).toBe('lost@answer:1');
    await expect(post(`${sim.cpUrl}/v1/leases`, body)).rejects.toThrow();
    // Dropped twice: the third is answered, as the retry of the same holder (200, the lease and its token).
    const third = await post(`${sim.cpUrl}/v1/leases`, body);
    expect(third.status).toBe(200);
    const token = S.leaseCreated.parse(third.json).token;
    expect((await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=${token}`)).status).toBe(204);
    const recorded = (await sim.calls()).filter((c) => c.method === 'POST' && c.path === '/v1/leases' && (c.body as { holder?: string })?.holder === 'lost@answer:1');
    expect(recorded.length, 'a dropped answer is still recorded: the CP acted').toBe(3);
    expect(() => sim.setFaults({ cpDropAnswer: { pattern: '(' } })).toThrow(/cpDropAnswer\.pattern/);
  });
});

describe('transfer faults', () => {
  it('noEligibleTarget and transfersNeverComplete', async () => {
    const p = S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0003`)).json);
    const leader = p.leader ?? '';
    await sim.setFaults({ noEligibleTarget: true });
    const r = await post(`${sim.cpUrl}/v1/prgs/prg-0003/leader-transfer`, { exclude: [leader] });
    expect(r.status).toBe(409);
    expect(S.errorBody.parse(r.json).error.code).toBe('no_eligible_target');
    await sim.setFaults({ noEligibleTarget: false, transfersNeverComplete: true });
    expect((await post(`${sim.cpUrl}/v1/prgs/prg-0003/leader-transfer`, { exclude: [leader] })).status).toBe(202);
    await sleep(100);
    expect(S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0003`)).json).leader).toBe(leader);
  });

  it('transferConcurrency: excess requests get 503 with Retry-After', async () => {
    await sim.setFaults({ transferConcurrency: 1, transferServiceMs: 1500 });
    const ids = ['prg-0004', 'prg-0005', 'prg-0006'];
    const leaders = await Promise.all(ids.map(async (id) => S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/${id}`)).json).leader ?? ''));
    const rs = await Promise.all(ids.map((id, i) => post(`${sim.cpUrl}/v1/prgs/${id}/leader-transfer`, { exclude: [leaders[i] ?? ''] })));
    const codes = rs.map((r) => r.status).sort();
    expect(codes).toEqual([202, 503, 503]);
    const busy = rs.find((r) => r.status === 503);
    expect(['0', '1']).toContain(busy?.headers.get('retry-after'));
  });

  it('replicaDown marks replicas down or lagging and moves leadership off them', async () => {
    await sim.setFaults({ replicaDown: [{ node: 'node-2', prgs: ['prg-0001', 'prg-0002'], state: 'lagging' }, { node: 'node-3' }] });
    const p1 = S.prg.parse((await get(`${sim.cpUrl}/v1/prgs/prg-0001`)).json);
    expect(p1.replicas.find((r) => r.node === 'node-2')?.state).toBe('lagging');
    expect(p1.replicas.find((r) => r.node === 'node-3')?.state).toBe('down');
    await waitFor(async () => S.prgList.parse((await get(`${sim.cpUrl}/v1/prgs?leader=node-3`)).json).items.length === 0);
    const cs = S.clusterState.parse((await get(`${sim.cpUrl}/v1/cluster/state`)).json);
    expect(cs.prgs.ready).toBeLessThan(60); // prg-0001 and prg-0002 lost their quorum of healthy replicas
    expect((await post(`${sim.controlUrl}/_sim/faults`, { bogus: 1 })).status).toBe(400);
  });
});

describe('node and LB faults', () => {
  it('lbNeverHealthy and lbError', async () => {
    await sim.setFaults({ lbNeverHealthy: ['node-4'] });
    await waitFor(async () => S.lbMember.parse((await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-4`)).json).health === 'down', 10_000);
    await sim.setFaults({ lbError: true });
    const r = await get(`${sim.lbUrl}/v1/pools/mqtt/members/node-4`);
    expect(r.status).toBe(500);
    S.errorBody.parse(r.json);
  });

  it('neverReady: a restarted node stays replaying', async () => {
    await sim.setFaults({ neverReady: ['node-4'] });
    await sim.restartNode('node-4');
    await sleep(500);
    const r = await get(`${sim.nodes[3]?.adminUrl}/readyz`);
    expect(r.status).toBe(503);
    const body = S.readyz.parse(r.json);
    expect(body.reasons).toContain('prgs_replaying');
    expect(body.replay.progress).toBeLessThan(1);
  });
});

describe.each([
  ['sim restart-node', ['sim', 'restart-node']],
  ['dist/sim/restart-node.js', ['restart-node.js']],
])('restart command (%s)', (_name, cmd) => {
  const dir = (): string => sim.stateDir;

  it('restarts for real and returns once the new process listens', async () => {
    const before = await bootId(1);
    const r = await runCli([...cmd, '--state-dir', dir(), 'node-2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^restarted node-2 \(boot_id \S+, pid \d+\)\n$/);
    expect((await get(`${sim.nodes[1]?.adminUrl}/livez`)).status).toBe(200);
    expect(await bootId(1)).not.toBe(before);
  });

  it('restartNoop exits 0 without restarting; restartFail exits 3; restartHang hangs', async () => {
    const before = await bootId(1);
    await sim.setFaults({ restartNoop: true });
    expect((await runCli([...cmd, '--state-dir', dir(), 'node-2'])).code).toBe(0);
    expect(await bootId(1)).toBe(before);
    await sim.setFaults({ restartNoop: false, restartFail: ['node-2'] });
    expect((await runCli([...cmd, '--state-dir', dir(), 'node-2'])).code).toBe(3);
    await sim.setFaults({ restartFail: false, restartHang: true });
    const hangNoted = async (): Promise<boolean> => (await sim.events()).some((e) => e.event === 'restart_command' && e.outcome === 'hang');
    // killed by us once it reported hanging (plus 500 ms): it never exits by itself
    const hung = await runCli([...cmd, '--state-dir', dir(), 'node-2'], 15_000, async () => (await hangNoted()) && (await sleep(500), true));
    expect(hung.code).toBeNull();
    expect(await bootId(1)).toBe(before);
    const outcomes = (await sim.events()).filter((e) => e.event === 'restart_command').map((e) => e.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['noop', 'fail', 'hang']));
    const unknown = await runCli([...cmd, '--state-dir', dir(), 'node-99']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown node node-99 (known: node-1, node-2, node-3, node-4)');
  });

  it('says when no simulator runs in the state dir (exit 1), and a missing node is a usage error (exit 2)', async () => {
    const empty = await tempDir();
    const none = await runCli([...cmd, '--state-dir', empty, 'node-2']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no simulator running in ${empty}`);
    expect((await runCli([...cmd, '--state-dir', dir()])).code).toBe(2);
  });
});

describe('park: holding a call until the knob is set again', () => {
  const parked = async (): Promise<Array<{ seq: number; system: string; node?: string; method: string; path: string }>> =>
    (await get(`${sim.controlUrl}/_sim/parked`)).json as never;
  const settled = <T>(p: Promise<T>) => {
    const s = { done: false, value: undefined as T | undefined };
    void p.then((v) => Object.assign(s, { done: true, value: v }));
    return s;
  };

  it('holds a matching CP call before anything of it happens; others pass; setting the knob again lets it go', async () => {
    await sim.setFaults({ park: { system: 'cp', method: 'POST', path: '/v1/leases' } });
    const held = settled(post(`${sim.cpUrl}/v1/leases`, { name: 'rolling-restart', holder: 'parked', ttl_ms: 30_000 }));
    const [call] = await waitFor(async () => { const p = await parked(); return p.length ? p : undefined; });
    expect(call).toMatchObject({ system: 'cp', method: 'POST', path: '/v1/leases' });
    expect((await get(`${sim.cpUrl}/v1/leases/rolling-restart`)).status, 'the held POST has not taken the lease').toBe(404);
    expect((await get(`${sim.cpUrl}/v1/features`)).status, 'other calls pass').toBe(200);
    expect(held.done).toBe(false);
    await sim.setFaults({ park: { system: 'cp', method: 'GET', path: '/v1/nothing' } }); // another rule: lets go of the first
    const r = await waitFor(async () => held.done && held.value);
    expect(r.status).toBe(201);
    expect((await parked()).length).toBe(0);
    const lease = S.leaseCreated.parse(r.json);
    expect((await del(`${sim.cpUrl}/v1/leases/rolling-restart?token=${lease.token}`)).status).toBe(204);
  });

  it('holds a node admin call (node processes ask the control server), and only on the given node', async () => {
    const before = (await sim.calls()).length;
    await sim.setFaults({ park: { system: 'node', node: 'node-2', method: 'GET', pattern: '^/readyz(\\?|$)' } });
    expect((await get(`${sim.nodes[0]?.adminUrl}/readyz`)).status).toBe(200);
    const held = settled(get(`${sim.nodes[1]?.adminUrl}/readyz`));
    const [call] = await waitFor(async () => { const p = await parked(); return p.length ? p : undefined; });
    expect(call).toMatchObject({ system: 'node', node: 'node-2', method: 'GET', path: '/readyz' });
    expect(held.done).toBe(false);
    await sim.setFaults({ park: null });
    expect((await waitFor(async () => held.done && held.value)).status).toBe(200);
    expect((await sim.calls()).slice(before).filter((c) => c.node === 'node-2' && c.path === '/readyz')).toHaveLength(1);
  });

  it('a held call whose client went away is dropped: never handled, not recorded', async () => {
    const before = (await sim.calls()).length;
    await sim.setFaults({ park: { system: 'node', node: 'node-3', method: 'PUT', path: '/v1/drain' } });
    const ac = new AbortController();
    const gone = fetch(`${sim.nodes[2]?.adminUrl}/v1/drain`, { method: 'PUT', body: JSON.stringify({ reason: 'x', initiator: 'y' }), headers: { 'content-type': 'application/json' }, signal: ac.signal }).catch(() => 'aborted');
    await waitFor(async () => (await parked()).length === 1);
    ac.abort();
    expect(await gone).toBe('aborted');
    await waitFor(async () => (await parked()).length === 0); // the node saw its caller go and hung up
    await sim.setFaults({ park: null });
    expect(S.drainStatus.parse((await get(`${sim.nodes[2]?.adminUrl}/v1/drain`)).json).draining).toBe(false);
    expect((await sim.calls()).slice(before).filter((c) => c.method === 'PUT')).toEqual([]);
  });

  it('holds the restart command at the control API; a bad rule is refused naming the key', async () => {
    const before = await bootId(0);
    await sim.setFaults({ park: { system: 'sim', node: 'node-1', method: 'POST', path: '/_sim/nodes/node-1/restart' } });
    const cmd = runCli(['sim', 'restart-node', '--state-dir', sim.stateDir, 'node-1']);
    await waitFor(async () => (await parked()).some((c) => c.system === 'sim' && c.node === 'node-1'));
    expect(await bootId(0), 'not restarted while held').toBe(before);
    await sim.setFaults({ park: null });
    expect((await cmd).code).toBe(0);
    expect(await bootId(0)).not.toBe(before);
    const bad = await post(`${sim.controlUrl}/_sim/faults`, { park: { system: 'cp', pattern: '(' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('park.pattern');
  });
});
