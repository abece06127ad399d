/**
 * How HAProxy stops sending new connections to a node, on both paths:
 *  - runtime API path: once `drain()` returns, the very next new connection (and every
 *    one after) avoids the node — no health check has to run first;
 *  - health-check path: the node's /readyz turns 503 → HAProxy's own check (inter,
 *    fall 1) notices, stops sending, and the adapter reports the member down;
 *  - back in service: after `enable()`, traffic returns and the status says up.
 * How fast each path is (and the ratio between them) is measured by
 * bench/b7-lb-detection.mjs (B7), not asserted here.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HaproxyLbAdapter } from '../../src/adapters/lb/haproxy.js';
import type { LbDeps, LbTarget } from '../../src/adapters/lb/types.js';
import { eventually } from '../support/inspect.js';
import { connectVia, haproxyInstalled, startHaproxy, startReadyz, startTcpBackend, until, type ReadyzServer } from '../support/haproxy.js';

const deps: LbDeps = { log: pino({ level: 'silent' }), runtimeFor: () => { throw new Error('unused'); } };
const node1: LbTarget = { node: 'node-1', member: 'node-1', adminUrl: '' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function setup(inter: number) {
  const readyz: ReadyzServer[] = [];
  const servers = [];
  for (const name of ['node-1', 'node-2']) {
    const r = await startReadyz(200);
    const t = await startTcpBackend(name);
    cleanups.push(() => r.close(), () => t.close());
    readyz.push(r);
    servers.push({ name, port: t.port, checkPort: r.port });
  }
  const hx = await startHaproxy({ inter, backends: [{ name: 'mqtt', servers }] });
  cleanups.push(() => hx.stop());
  const adapter = new HaproxyLbAdapter({ socket: hx.socketPath, backends: ['mqtt'] }, deps);
  const up = async () => (await adapter.status(node1)).health === 'up';
  await until(up, 30_000);
  return { port: hx.frontendPort, readyz1: readyz[0]!, adapter, up };
}

describe.skipIf(!haproxyInstalled())('drain detection: runtime API vs health check', () => {
  it('runtime API: the next connection after drain() avoids the node; enable() brings it back', { timeout: 120_000 }, async () => {
    const { port, adapter, up } = await setup(100);
    for (let i = 0; i < 3; i++) {
      // Round robin: once a connection lands on node-2, the next one is node-1's turn.
      await eventually(async () => (await connectVia(port)).server === 'node-2');
      await adapter.drain(node1);
      for (let k = 0; k < 21; k++) expect((await connectVia(port)).server, `connection ${k} after drain()`).toBe('node-2');
      expect((await adapter.status(node1)).adminState).not.toBe('enabled');

      // Back in service: traffic returns, and the adapter sees it up.
      await adapter.enable(node1);
      await eventually(async () => (await connectVia(port)).server === 'node-1');
      await eventually(up);
    }
  });

  it('health check: a 503 from the node takes it out without any runtime call, a 200 brings it back', { timeout: 120_000 }, async () => {
    const { port, readyz1, adapter, up } = await setup(100);
    // Health-check path: the node says 503; HAProxy notices on its own, without any runtime call.
    readyz1.set(503);
    const checksAt503 = readyz1.checks();
    await eventually(async () => (await adapter.status(node1)).health === 'down');
    for (let k = 0; k < 20; k++) expect((await connectVia(port)).server, `connection ${k} after the member went down`).toBe('node-2');
    expect(readyz1.checks(), 'a health check ran after the 503: it took the member out').toBeGreaterThan(checksAt503);
    readyz1.set(200);
    await eventually(up);
    await eventually(async () => (await connectVia(port)).server === 'node-1');
  });
});
