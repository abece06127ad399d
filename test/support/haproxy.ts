/**
 * Real HAProxy for tests: writes a config into a temp dir, runs `haproxy -db -f cfg`
 * as a tracked child, waits for its admin socket. Also tiny real backends: TCP servers
 * that greet with their name and count accepted connections, and HTTP `/readyz`
 * servers whose answer the test controls.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { adminCommand, findHaproxy, freePort, launchHaproxy } from '../../src/sim/haproxy.js';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestCluster } from './cli.js';

export const HAPROXY_BIN: string | undefined = findHaproxy();
export { freePort };

/**
 * For `describe.skipIf(!haproxyInstalled())`. Skips only when the binary is absent,
 * and says so loudly: CI installs it (`apt-get install -y haproxy`), so a skip there
 * means the HAProxy adapter went untested.
 */
export function haproxyInstalled(): boolean {
  if (HAPROXY_BIN) return true;
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n!! haproxy is NOT installed: the HAProxy adapter tests are SKIPPED.\n!! Install it (apt-get install -y haproxy) — CI must not skip these.\n${bar}\n`);
  return false;
}

export interface HaproxyServerSpec {
  name: string;
  /** TCP traffic port. */
  port: number;
  /** HTTP port answering GET /readyz. */
  checkPort: number;
}

export interface HaproxyBackendSpec {
  name: string;
  servers: HaproxyServerSpec[];
}

export interface StartHaproxyOptions {
  backends: HaproxyBackendSpec[];
  /** Health-check interval in ms (default 200). */
  inter?: number;
  /** Also open a TCP admin socket on 127.0.0.1 (returned as `tcpSocket`, "127.0.0.1:port"). */
  tcpSocket?: boolean;
}

export interface HaproxyHandle {
  socketPath: string;
  tcpSocket?: string;
  /** Frontend port per backend name. */
  frontendPorts: Record<string, number>;
  /** Frontend port of the first backend. */
  frontendPort: number;
  pid: number;
  child: ChildProcess;
  dir: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Everything HAProxy wrote to stdout/stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyHandle> {
  if (!HAPROXY_BIN) throw new Error('haproxy is not installed');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'qr-hx-'));
  const socketPath = path.join(dir, 'admin.sock');
  const tcpPort = opts.tcpSocket ? await freePort() : undefined;
  const frontendPorts: Record<string, number> = {};
  for (const be of opts.backends) frontendPorts[be.name] = await freePort();
  let hx;
  try {
    hx = await launchHaproxy(
      dir,
      {
        socketPath,
        tcpAdminPort: tcpPort,
        inter: opts.inter ?? 200,
        backends: opts.backends.map((be) => ({ name: be.name, frontendPort: frontendPorts[be.name]!, servers: be.servers })),
      },
      HAPROXY_BIN,
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const first = opts.backends[0]?.name ?? '';
  return {
    socketPath,
    ...(tcpPort ? { tcpSocket: `127.0.0.1:${tcpPort}` } : {}),
    frontendPorts,
    frontendPort: frontendPorts[first] ?? 0,
    pid: hx.pid,
    child: hx.child,
    dir,
    exited: hx.exited,
    output: hx.output,
    stop: async () => {
      await hx.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One command on the admin socket, bypassing the adapter (to set up or cross-check state). */
export const rawCommand = adminCommand;

/** srv_admin_state of one server, read straight from HAProxy. */
export async function adminBits(socketPath: string, backend: string, server: string): Promise<number> {
  const text = await rawCommand(socketPath, `show servers state ${backend}`);
  const lines = text.split('\n').filter((l) => l.trim());
  const cols = (lines[1] ?? '').replace(/^# /, '').split(' ');
  for (const l of lines.slice(2)) {
    const f = l.split(' ');
    if (f[cols.indexOf('srv_name')] === server) return Number(f[cols.indexOf('srv_admin_state')]);
  }
  throw new Error(`no ${backend}/${server} in:\n${text}`);
}

export interface TcpBackend {
  name: string;
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections currently open. */
  open(): number;
  close(): Promise<void>;
}

/** A TCP server that writes `<name>\n` on accept, then echoes. */
export async function startTcpBackend(name: string): Promise<TcpBackend> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (srv.address() as net.AddressInfo).port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

export interface ReadyzServer {
  port: number;
  /** Status code /readyz answers from now on. */
  set(code: number): void;
  /** /readyz requests (health checks) seen so far. */
  checks(): number;
  close(): Promise<void>;
}

export async function startReadyz(code = 200): Promise<ReadyzServer> {
  let current = code;
  let checks = 0;
  const srv = http.createServer((req, res) => {
    if (req.url === '/readyz') checks++;
    res.statusCode = req.url === '/readyz' ? current : 404;
    res.setHeader('connection', 'close');
    res.end(current === 200 ? 'ready\n' : 'not ready\n');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    set: (c) => (current = c),
    checks: () => checks,
    close: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

export interface Via {
  /** Name of the backend server that greeted, or null if HAProxy closed without one. */
  server: string | null;
  socket: net.Socket;
}

/** Opens a connection through a HAProxy frontend and reads which server answered. Keep it open with `hold`. */
export function connectVia(port: number, opts: { hold?: boolean; timeoutMs?: number } = {}): Promise<Via> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (server: string | null) => {
      clearTimeout(t);
      s.removeAllListeners('data');
      if (!opts.hold) s.destroy();
      resolve({ server, socket: s });
    };
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no greeting through 127.0.0.1:${port}`));
    }, opts.timeoutMs ?? 3_000);
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl));
    });
    s.on('end', () => done(null));
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** Round-trips a line over an open connection (proves it is still alive end to end). */
export function echo(s: net.Socket, line: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('no echo')), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) {
        clearTimeout(t);
        s.off('data', onData);
        resolve(buf.trim());
      }
    };
    s.on('data', onData);
    s.write(`${line}\n`);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value; throws with the last value after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs: number, intervalMs = 10): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T;
  while (true) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

/**
 * A real HAProxy in front of a test cluster's nodes (one backend `mqtt`, checks on each
 * node's /readyz every 100 ms), the cluster's config switched to the haproxy adapter, and
 * back once HAProxy's own checks have seen every node up.
 */
export async function haproxyInFront(c: TestCluster): Promise<HaproxyHandle> {
  const hx = await startHaproxy({
    inter: 100,
    backends: [{ name: 'mqtt', servers: c.sim.nodes.map((n) => ({ name: n.id, port: n.mqttPort, checkPort: Number(new URL(n.adminUrl).port) })) }],
  });
  await c.patchConfig((cfg) => {
    cfg.lb = { adapter: 'haproxy', socket: hx.socketPath, backends: ['mqtt'] };
  });
  for (let i = 0; i < 100; i++) {
    const st = (await c.cli(['status'])).json as any;
    if (st.nodes.every((n: any) => n.lb.health === 'up')) break;
    await sleep(50);
  }
  return hx;
}
