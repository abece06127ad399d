/**
 * B7, LB drain detection: how fast a real HAProxy stops sending new connections to a
 * node on each path (moved here from test/adapters/haproxy-detection.test.ts, which
 * keeps the behaviour and asserts no speed):
 *  - runtime API: `drain()` returning → the next new connection avoids the node;
 *  - health check: the node's /readyz turns 503 → HAProxy's own check (inter, fall 1)
 *    notices and marks the member down.
 * The ratio is health-check time ÷ runtime-API time, per check interval: above 1 means
 * the runtime API path is the faster one (what the adapter is built on).
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { dist, median, r2 } from './lib.mjs';

const INTERS = [100, 1000];

function readyzServer(code) {
  let current = code;
  const srv = http.createServer((req, res) => {
    res.statusCode = req.url === '/readyz' ? current : 404;
    res.setHeader('connection', 'close');
    res.end();
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, set: (c) => (current = c), close: () => new Promise((r) => srv.close(() => r())) })));
}

function tcpBackend(name) {
  const sockets = new Set();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(`${name}\n`);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: srv.address().port,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => srv.close(() => r()));
        },
      }),
    ),
  );
}

/** Which backend a new connection through the frontend lands on (its greeting). */
function connectVia(port) {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2_000, () => done(null));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) done(buf.trim());
    });
    s.on('error', () => done(null));
    s.on('close', () => done(buf.trim() || null));
  });
}

async function until(cond) {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

async function measure(inter, { launchHaproxy, freePort, findHaproxy }, HaproxyLbAdapter) {
  const dir = mkdtempSync(join(tmpdir(), 'qr-b7-'));
  const closers = [];
  try {
    const servers = [];
    const readyz = [];
    for (const name of ['node-1', 'node-2']) {
      const r = await readyzServer(200);
      const t = await tcpBackend(name);
      closers.push(r.close, t.close);
      readyz.push(r);
      servers.push({ name, port: t.port, checkPort: r.port });
    }
    const frontendPort = await freePort();
    const socketPath = join(dir, 'admin.sock');
    const hx = await launchHaproxy(dir, { socketPath, inter, backends: [{ name: 'mqtt', frontendPort, servers }] }, findHaproxy());
    closers.push(() => hx.stop());
    const adapter = new HaproxyLbAdapter({ socket: socketPath, backends: ['mqtt'] }, { log: pino({ level: 'silent' }), runtimeFor: () => { throw new Error('unused'); } });
    const node1 = { node: 'node-1', member: 'node-1', adminUrl: '' };
    const up = async () => (await adapter.status(node1)).health === 'up';
    await until(up);
    const samples = inter >= 1000 ? 3 : 5;
    const runtime = [];
    for (let i = 0; i < samples; i++) {
      await until(async () => (await connectVia(frontendPort)) === 'node-2');
      const t0 = performance.now();
      await adapter.drain(node1);
      await connectVia(frontendPort);
      runtime.push(performance.now() - t0);
      await adapter.enable(node1);
      await until(async () => (await connectVia(frontendPort)) === 'node-1');
      await until(up);
    }
    const check = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      readyz[0].set(503);
      let lastHit = 0;
      let after = 0;
      let down = -1;
      while (after < 20) {
        const v = await connectVia(frontendPort);
        if (v === 'node-1') lastHit = performance.now() - t0;
        if (down < 0 && (await adapter.status(node1)).health === 'down') down = performance.now() - t0;
        if (down >= 0) after++;
      }
      check.push({ lastHit, down });
      readyz[0].set(200);
      await until(up);
      await new Promise((r) => setTimeout(r, Math.random() * inter)); // decorrelate from the check timer
    }
    await adapter.close?.();
    const rt = median(runtime);
    const hc = median(check.map((c) => c.down));
    return {
      inter_ms: inter,
      runtime_api_next_conn_ms: runtime.map(r2),
      health_check_marked_down_ms: check.map((c) => r2(c.down)),
      health_check_last_conn_to_node_ms: check.map((c) => r2(c.lastHit)),
      ratio: r2(hc / Math.max(0.01, rt)),
    };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function b7() {
  const hx = await dist('sim/haproxy.js');
  if (!hx.findHaproxy()) throw new Error(hx.HAPROXY_INSTALL_HINT);
  const { HaproxyLbAdapter } = await dist('adapters/lb/haproxy.js');
  const per = [];
  for (const inter of INTERS) per.push(await measure(inter, hx, HaproxyLbAdapter));
  return {
    name: 'B7 LB drain detection',
    method: 'real HAProxy, 2 servers; medians of runtime-API drain → next connection vs /readyz 503 → HAProxy marks the member down',
    per_inter: per,
    summary: `B7 LB drain detection: health check ÷ runtime API ${per.map((p) => `×${p.ratio} at inter ${p.inter_ms} ms`).join(', ')} (target > 1)`,
  };
}
