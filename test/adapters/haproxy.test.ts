import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { HaproxyLbAdapter } from '../../src/adapters/lb/haproxy.js';
import type { LbDeps, LbTarget, MemberStatus } from '../../src/adapters/lb/types.js';
import { errorOf } from '../support/expect.js';
import {
  type HaproxyHandle,
  type ReadyzServer,
  type TcpBackend,
  adminBits,
  connectVia,
  echo,
  haproxyInstalled,
  rawCommand,
  sleep,
  startHaproxy,
  startReadyz,
  startTcpBackend,
  until,
} from '../support/haproxy.js';

const deps: LbDeps = {
  log: pino({ level: process.env.QR_TEST_LOG ?? 'silent' }),
  runtimeFor: () => {
    throw new Error('the HAProxy adapter must not talk to nodes');
  },
};

const target = (node: string): LbTarget => ({ node, member: node, adminUrl: `http://${node}.invalid:9443` });

interface Lab {
  hx: HaproxyHandle;
  readyz: Record<string, ReadyzServer>;
  /** tcp[backend][node] */
  tcp: Record<string, Record<string, TcpBackend>>;
  adapter: HaproxyLbAdapter;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

/** Nodes node-1..node-n, each a server in every backend, one readyz per node. */
async function lab(opts: { backends?: string[]; nodes?: number; inter?: number; tcpSocket?: boolean } = {}): Promise<Lab> {
  const backends = opts.backends ?? ['mqtt'];
  const nodes = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `node-${i + 1}`);
  const readyz: Lab['readyz'] = {};
  const tcp: Lab['tcp'] = {};
  for (const n of nodes) {
    const r = await startReadyz(200);
    readyz[n] = r;
    cleanups.push(() => r.close());
  }
  for (const be of backends) {
    tcp[be] = {};
    for (const n of nodes) {
      const t = await startTcpBackend(`${be}:${n}`);
      tcp[be]![n] = t;
      cleanups.push(() => t.close());
    }
  }
  const hx = await startHaproxy({
    inter: opts.inter ?? 100,
    tcpSocket: opts.tcpSocket,
    backends: backends.map((be) => ({ name: be, servers: nodes.map((n) => ({ name: n, port: tcp[be]![n]!.port, checkPort: readyz[n]!.port })) })),
  });
  cleanups.push(() => hx.stop());
  const adapter = new HaproxyLbAdapter({ socket: hx.socketPath, backends }, deps);
  // Every server has passed a first check before the test starts.
  await until(async () => (await adapter.status(target('node-1'))).health === 'up' && (await adapter.status(target('node-2'))).health === 'up', 5_000);
  return { hx, readyz, tcp, adapter };
}

/** Opens `n` connections through `port` one after another and returns which server each reached. */
async function spray(port: number, n: number): Promise<(string | null)[]> {
  const seen: (string | null)[] = [];
  for (let i = 0; i < n; i++) seen.push((await connectVia(port)).server);
  return seen;
}

/** Opens connections until one lands on `server`, and keeps that one open. */
async function holdOn(port: number, server: string) {
  for (let i = 0; i < 20; i++) {
    const v = await connectVia(port, { hold: true });
    if (v.server === server) {
      cleanups.push(async () => void v.socket.destroy());
      return v.socket;
    }
    v.socket.destroy();
  }
  throw new Error(`never reached ${server}`);
}

describe.skipIf(!haproxyInstalled())('HAProxy adapter (real haproxy)', () => {
  it('drain: no new connection reaches the drained server, an existing one stays open, status says draining', async () => {
    const { hx, tcp, adapter } = await lab();
    const held = await holdOn(hx.frontendPort, 'mqtt:node-1');
    const before = tcp.mqtt!['node-1']!.accepted();

    await adapter.drain(target('node-1'));
    const s = await adapter.status(target('node-1'));
    expect(s.adminState).toBe('draining');
    expect(s.health).not.toBe('up');
    expect(s.activeConnections).toBe(1);
    expect(s.detail).toMatch(/mqtt: DRAIN \(admin 0x08 FDRAIN/);
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-1')).toBe(0x08);

    const seen = await spray(hx.frontendPort, 20);
    expect(seen).toEqual(Array(20).fill('mqtt:node-2'));
    expect(tcp.mqtt!['node-1']!.accepted()).toBe(before);
    expect(await echo(held, 'still-here')).toBe('still-here');
    expect(tcp.mqtt!['node-1']!.open()).toBe(1);

    // Idempotent: draining again is fine.
    await adapter.drain(target('node-1'));
    expect((await adapter.status(target('node-1'))).adminState).toBe('draining');
  });

  it('activeConnections sums the sessions HAProxy holds to the member', async () => {
    const { hx, adapter } = await lab();
    expect((await adapter.status(target('node-1'))).activeConnections).toBe(0);
    await holdOn(hx.frontendPort, 'mqtt:node-1');
    await holdOn(hx.frontendPort, 'mqtt:node-1');
    const s = await adapter.status(target('node-1'));
    expect(s).toMatchObject({ adminState: 'enabled', health: 'up', activeConnections: 2 });
  });

  it('enable: health is not up while /readyz answers 503, and up only after a check passed; traffic returns', async () => {
    const { hx, readyz, tcp, adapter } = await lab({ inter: 200 });
    await adapter.drain(target('node-1'));
    readyz['node-1']!.set(503);
    await until(async () => (await adapter.status(target('node-1'))).health === 'down', 3_000);

    await adapter.enable(target('node-1'));
    const s0 = await adapter.status(target('node-1'));
    expect(s0.adminState).toBe('enabled');
    expect(s0.health).toBe('down');
    // Several check intervals later it is still not up, and gets no traffic.
    await sleep(700);
    const s1 = await adapter.status(target('node-1'));
    expect(s1).toMatchObject({ adminState: 'enabled', health: 'down' });
    expect(s1.detail).toMatch(/L7STS/);
    const accepted = tcp.mqtt!['node-1']!.accepted();
    expect(await spray(hx.frontendPort, 6)).toEqual(Array(6).fill('mqtt:node-2'));
    expect(tcp.mqtt!['node-1']!.accepted()).toBe(accepted);

    const checksAt200 = readyz['node-1']!.checks();
    readyz['node-1']!.set(200);
    const up = await until(async (): Promise<MemberStatus | undefined> => {
      const s = await adapter.status(target('node-1'));
      return s.health === 'up' ? s : undefined;
    }, 3_000);
    expect(readyz['node-1']!.checks()).toBeGreaterThan(checksAt200); // a check ran after /readyz turned 200
    expect(up.detail).toMatch(/mqtt: UP .*check L7OK/);
    expect(await spray(hx.frontendPort, 6)).toContain('mqtt:node-1');
  });

  it('enable after maintenance does not trust the stale pre-maintenance check result', async () => {
    // HAProxy pauses checks in maintenance and, on "state ready", shows the server UP
    // with the last result from before. The adapter forces a fresh check instead.
    const { hx, readyz, tcp, adapter } = await lab({ inter: 300 });
    expect(await rawCommand(hx.socketPath, 'set server mqtt/node-1 state maint')).toBe('\n');
    readyz['node-1']!.set(503); // the node came back broken while checks were paused
    await sleep(400);
    expect((await adapter.status(target('node-1'))).adminState).toBe('disabled');

    await adapter.enable(target('node-1'));
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-1')).toBe(0);
    const accepted = tcp.mqtt!['node-1']!.accepted();
    // Right away and after a few checks: enabled, not up, and no traffic.
    expect((await adapter.status(target('node-1'))).health).not.toBe('up');
    expect(await spray(hx.frontendPort, 6)).toEqual(Array(6).fill('mqtt:node-2'));
    await sleep(700);
    expect(await adapter.status(target('node-1'))).toMatchObject({ adminState: 'enabled', health: 'down' });
    expect(tcp.mqtt!['node-1']!.accepted()).toBe(accepted);

    readyz['node-1']!.set(200);
    await until(async () => (await adapter.status(target('node-1'))).health === 'up', 3_000);
  });

  it('enable leaves an already-serving member alone (no forced health reset)', async () => {
    const { adapter, hx } = await lab({ inter: 1000 });
    await adapter.enable(target('node-1'));
    expect(await adapter.status(target('node-1'))).toMatchObject({ adminState: 'enabled', health: 'up' });
    expect(await spray(hx.frontendPort, 4)).toContain('mqtt:node-1');
  });

  it('switches a member in several backends together', async () => {
    const { hx, adapter, readyz } = await lab({ backends: ['mqtt', 'mqtt_ws'] });
    await adapter.drain(target('node-1'));
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-1')).toBe(0x08);
    expect(await adminBits(hx.socketPath, 'mqtt_ws', 'node-1')).toBe(0x08);
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-2')).toBe(0);
    const s = await adapter.status(target('node-1'));
    expect(s.adminState).toBe('draining');
    expect(s.detail).toMatch(/^mqtt: DRAIN .*; mqtt_ws: DRAIN /);
    expect(await spray(hx.frontendPorts.mqtt!, 6)).toEqual(Array(6).fill('mqtt:node-2'));
    expect(await spray(hx.frontendPorts.mqtt_ws!, 6)).toEqual(Array(6).fill('mqtt_ws:node-2'));

    // A partial drain (one backend only) is not "out of service".
    await rawCommand(hx.socketPath, 'set server mqtt_ws/node-1 state ready');
    expect((await adapter.status(target('node-1'))).adminState).toBe('enabled');
    await rawCommand(hx.socketPath, 'set server mqtt_ws/node-1 state drain');

    await adapter.enable(target('node-1'));
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-1')).toBe(0);
    expect(await adminBits(hx.socketPath, 'mqtt_ws', 'node-1')).toBe(0);
    expect(readyz['node-1']).toBeDefined();
    await until(async () => (await adapter.status(target('node-1'))).health === 'up', 3_000);
    expect(await spray(hx.frontendPorts.mqtt!, 4)).toContain('mqtt:node-1');
    expect(await spray(hx.frontendPorts.mqtt_ws!, 4)).toContain('mqtt_ws:node-1');
  });

  it('speaks to a host:port admin socket too', async () => {
    const { hx } = await lab({ tcpSocket: true });
    const a = new HaproxyLbAdapter({ socket: hx.tcpSocket!, backends: ['mqtt'] }, deps);
    await a.drain(target('node-2'));
    expect((await a.status(target('node-2'))).adminState).toBe('draining');
    await a.enable(target('node-2'));
    expect((await a.status(target('node-2'))).adminState).toBe('enabled');
  });

  it('unknown server or backend: error names the socket and the command, nothing is changed', async () => {
    const { hx, adapter } = await lab({ backends: ['mqtt', 'mqtt_ws'] });
    const e1 = await errorOf(adapter.drain(target('node-9')));
    expect(e1.message).toBe(
      `HAProxy runtime API at ${hx.socketPath}: "show servers state mqtt" failed: no server "node-9" in backend "mqtt" (servers: node-1, node-2)`,
    );
    expect(e1.details.endpoint).toBe(hx.socketPath);

    const bad = new HaproxyLbAdapter({ socket: hx.socketPath, backends: ['mqtt', 'nope'] }, deps);
    const e2 = await errorOf(bad.drain(target('node-1')));
    expect(e2.message).toBe(`HAProxy runtime API at ${hx.socketPath}: "show servers state nope" failed: Can't find backend.`);
    // Validation came first: mqtt/node-1 was not drained.
    expect(await adminBits(hx.socketPath, 'mqtt', 'node-1')).toBe(0);
    const e3 = await errorOf(bad.status(target('node-1')));
    expect(e3.message).toContain('"show servers state nope" failed');

    const e4 = await errorOf(adapter.status({ node: 'x', member: 'node-1;shutdown', adminUrl: '' }));
    expect(e4.message).toContain('is not a HAProxy server name');
  });

  it('wrong socket path, stale socket, refused TCP: clear errors naming the socket', async () => {
    const missing = new HaproxyLbAdapter({ socket: '/nonexistent/haproxy/admin.sock', backends: ['mqtt'] }, deps);
    const e1 = await errorOf(missing.status(target('node-1')));
    expect(e1.message).toMatch(/^HAProxy runtime API at \/nonexistent\/haproxy\/admin\.sock: "show servers state mqtt" failed: no such socket file/);
    expect(e1.details.endpoint).toBe('/nonexistent/haproxy/admin.sock');

    const { hx } = await lab();
    process.kill(hx.pid, 'SIGKILL');
    await hx.exited;
    const stale = new HaproxyLbAdapter({ socket: hx.socketPath, backends: ['mqtt'] }, deps);
    const e2 = await errorOf(stale.drain(target('node-1')));
    expect(e2.message).toContain(`HAProxy runtime API at ${hx.socketPath}:`);
    expect(e2.message).toContain('HAProxy is not running at that socket');

    const refused = new HaproxyLbAdapter({ socket: '127.0.0.1:1', backends: ['mqtt'] }, deps);
    expect((await errorOf(refused.status(target('node-1')))).message).toMatch(/^HAProxy runtime API at 127\.0\.0\.1:1: .*connection refused/);
  });

  it('a deadline bounds each command; an aborted signal stops the call', async () => {
    const { adapter } = await lab();
    const e = await errorOf(adapter.status(target('node-1'), { deadline: Date.now() - 1 }));
    expect(e.message).toContain('no time left before the deadline');
    const ac = new AbortController();
    ac.abort(new Error('stop requested'));
    await expect(adapter.drain(target('node-1'), { signal: ac.signal })).rejects.toThrow('stop requested');
  });

  it('a socket that accepts but never answers times out within the deadline', async () => {
    const net = await import('node:net');
    const conns: import('node:net').Socket[] = [];
    const silent = net.createServer((c) => void conns.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const a = new HaproxyLbAdapter({ socket: `127.0.0.1:${port}`, backends: ['mqtt'] }, deps);
    const e = await errorOf(a.status(target('node-1'), { deadline: Date.now() + 300 }));
    expect(e.message).toMatch(/"show servers state mqtt" failed: no complete answer within \d+ ms/);
    expect(Number(/within (\d+) ms/.exec(e.message)?.[1]), 'bounded by the deadline').toBeLessThanOrEqual(300);
  });
});
