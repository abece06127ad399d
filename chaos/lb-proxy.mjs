/**
 * The MQTT campaign's record of the LB: a unix-socket proxy in front of the real HAProxy's
 * Runtime API. The orchestrator's config points `lb.socket` here; every command it sends
 * (one per connection, as the HAProxy adapter does) is forwarded to the real socket
 * unchanged and recorded with its receipt time, its answer and the answer's time — the
 * same clock as the simulator's calls.ndjson. So the LB side of the invariants is read
 * from what HAProxy was told, not from what the CLI says, exactly as the http LB's
 * calls are.
 *
 * `unreachable(true)` closes the listener and removes the path (a stopped or unreachable
 * LB: ENOENT / ECONNREFUSED for the orchestrator); `unreachable(false)` listens again.
 * The simulator itself (the load's `show sess` lookups) uses the real socket.
 */
import { rmSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { adminCommand } from '../dist/sim/haproxy.js';

const now = () => performance.timeOrigin + performance.now();

/**
 * @param {string} path where to listen (the orchestrator's `lb.socket`)
 * @param {string} upstream the real HAProxy Runtime API socket
 */
export async function startLbProxy(path, upstream) {
  /** @type {Array<{t: number, t_end?: number, cmd: string, answer?: string, error?: string, by?: string}>} */
  const record = [];
  let server;
  const sockets = new Set();
  const onConnection = (down) => {
    sockets.add(down);
    down.on('close', () => sockets.delete(down));
    let buf = '';
    let entry;
    let up;
    down.on('error', () => up?.destroy());
    down.on('data', (d) => {
      if (up) return void up.write(d);
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      entry = { t: now(), cmd: buf.slice(0, nl).trim() };
      record.push(entry);
      const chunks = [];
      up = net.createConnection(upstream);
      up.on('connect', () => up.write(buf));
      up.on('data', (x) => {
        chunks.push(x);
        down.write(x);
      });
      up.on('end', () => {
        entry.t_end = now();
        entry.answer = Buffer.concat(chunks).toString('utf8');
        down.end();
      });
      up.on('error', (err) => {
        entry.t_end = now();
        entry.error = String(err);
        down.destroy();
      });
    });
    down.on('end', () => up?.end());
  };
  const listen = () =>
    new Promise((resolve, reject) => {
      rmSync(path, { force: true });
      server = net.createServer(onConnection);
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  await listen();
  return {
    record,
    async unreachable(on) {
      if (on && server) {
        const s = server;
        server = undefined;
        await new Promise((r) => s.close(() => r()));
        rmSync(path, { force: true });
      } else if (!on && !server) await listen();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      if (server) await new Promise((r) => server.close(() => r()));
      server = undefined;
      rmSync(path, { force: true });
    },
  };
}

/** One command straight to a Runtime API socket (the driver's own LB faults, the final state): the simulator's own. */
export const runtimeCommand = (socket, cmd, timeoutMs = 5_000) => adminCommand(socket, cmd, timeoutMs);

// HAProxy's srv_admin_state bits (src/server.h): forced/inherited/config/resolver/health maintenance, forced/inherited drain.
const MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const DRAIN = 0x08 | 0x10;

/** `show servers state <be>` → {server: 'enabled' | 'draining' | 'disabled'} (the http LB's words). */
export function adminStates(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new Error(`show servers state: no header in ${JSON.stringify(text.slice(0, 200))}`);
  const cols = header.replace(/^#\s*/, '').split(/\s+/);
  const name = cols.indexOf('srv_name');
  const admin = cols.indexOf('srv_admin_state');
  const out = {};
  for (const l of lines) {
    if (l.startsWith('#') || /^\d+$/.test(l)) continue;
    const f = l.split(/\s+/);
    const bits = Number(f[admin]);
    out[f[name]] = bits & MAINT ? 'disabled' : bits & DRAIN ? 'draining' : 'enabled';
  }
  return out;
}

/**
 * The proxy's record (and the driver's own commands, `by: 'chaos'`) as the http LB's calls and
 * `lb_admin_state` events, so the checker reads both LBs alike. An admin change takes effect
 * between the command's receipt and its answer: a change *into* service is dated at the
 * receipt, one out of it at the answer (both the side that would show a violation).
 */
export function lbRecordAsCalls(record, backend = 'mqtt') {
  const calls = [];
  const events = [];
  const words = { ready: 'enabled', drain: 'draining', maint: 'disabled' };
  for (const e of record) {
    const read = /^show servers state ([^\s]+)$/.exec(e.cmd);
    if (read && read[1] === backend && e.by !== 'chaos') {
      // A read of every member's admin state (what the orchestrator re-asserts from).
      const ok = e.error === undefined && e.t_end !== undefined && (e.answer ?? '').includes('srv_admin_state');
      calls.push({ t: e.t, t_end: e.t_end, system: 'lb', node: '*', method: 'GET', path: `/v1/pools/${backend}/members`, body: null, status: ok ? 200 : 500, haproxy: e.cmd });
      continue;
    }
    const m = /^set server ([^/\s]+)\/(\S+) state (ready|drain|maint)$/.exec(e.cmd);
    if (!m || m[1] !== backend) continue;
    const ok = e.error === undefined && e.t_end !== undefined && (e.answer ?? '').trim() === '';
    const state = words[m[3]];
    calls.push({
      t: e.t,
      t_end: e.t_end,
      system: 'lb',
      node: m[2],
      method: 'PUT',
      path: `/v1/pools/${backend}/members/${m[2]}/admin-state${e.by === 'chaos' ? '?by=chaos' : ''}`,
      body: { admin_state: state },
      status: ok ? 200 : 500,
      haproxy: e.cmd,
    });
    if (ok) events.push({ t: state === 'enabled' ? e.t : e.t_end, system: 'sim', event: 'lb_admin_state', node: m[2], admin_state: state, from: 'haproxy runtime API' });
  }
  return { calls, events };
}
