/**
 * A real HAProxy in front of the simulated nodes (`sim start --lb haproxy`): a tcp
 * frontend per backend, `option httpchk GET /readyz` on each node's admin port,
 * and an admin-level Runtime API socket. Runs `haproxy -db -f cfg` as a tracked
 * child (no pidfile in the foreground). Debian package: `haproxy`.
 */
import { watchExit } from './child-exit.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export function findHaproxy(): string | undefined {
  for (const p of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const HAPROXY_INSTALL_HINT = 'HAProxy is not installed: apt-get install -y haproxy (Debian/Ubuntu), then run again';

export interface HaproxyServer {
  name: string;
  /** TCP traffic port. */
  port: number;
  /** HTTP(S) port answering GET /readyz. */
  checkPort: number;
}

export interface HaproxyBackend {
  name: string;
  frontendPort: number;
  servers: HaproxyServer[];
}

export interface HaproxyConfigOptions {
  socketPath: string;
  /** Optional second admin socket on 127.0.0.1:<port>. */
  tcpAdminPort?: number;
  backends: HaproxyBackend[];
  /** Health-check interval in ms. */
  inter: number;
  /** The /readyz checks speak TLS (verification off: the check is about readiness, not identity). */
  checkSsl?: boolean;
  /** With mTLS on the admin API: a PEM holding the client certificate and key the checks present. */
  checkCrt?: string;
}

/** The config the README documents for the simulator. */
export function renderHaproxyConfig(o: HaproxyConfigOptions): string {
  const lines = [
    'global',
    `  stats socket ${o.socketPath} level admin`,
    ...(o.tcpAdminPort ? [`  stats socket 127.0.0.1:${o.tcpAdminPort} level admin`] : []),
    '  stats timeout 30s',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 10m', // above any MQTT keep-alive: an idle client is not cut
    '  timeout server 10m',
    // A /readyz that answers slowly on a loaded host is not a DOWN node (inter 100ms, fall 1).
    '  timeout check 1s',
  ];
  for (const be of o.backends) {
    lines.push(`frontend fe_${be.name}`, `  bind 127.0.0.1:${be.frontendPort}`, `  default_backend ${be.name}`);
    lines.push(`backend ${be.name}`, '  balance leastconn', '  option httpchk GET /readyz', '  http-check expect status 200');
    const ssl = o.checkSsl ? ` check-ssl verify none${o.checkCrt ? ` crt ${o.checkCrt}` : ''}` : '';
    for (const s of be.servers) lines.push(`  server ${s.name} 127.0.0.1:${s.port} check port ${s.checkPort}${ssl} inter ${o.inter}ms rise 1 fall 1`);
  }
  return `${lines.join('\n')}\n`;
}

export interface RunningHaproxy {
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/** Writes the config to `dir/haproxy.cfg`, starts HAProxy and waits until its admin socket answers. */
export async function launchHaproxy(dir: string, o: HaproxyConfigOptions, bin = findHaproxy()): Promise<RunningHaproxy> {
  if (!bin) throw new Error(HAPROXY_INSTALL_HINT);
  const cfg = path.join(dir, 'haproxy.cfg');
  await writeFile(cfg, renderHaproxyConfig(o));
  await rm(o.socketPath, { force: true }); // a stale socket file survives a previous HAProxy
  const child = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const life = watchExit(child);
  const exited = life.exited;
  const stop = async () => {
    if (life.alive) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(o.socketPath, { force: true });
  };
  const until = Date.now() + 10_000;
  for (;;) {
    if (!life.alive) {
      await stop();
      throw new Error(`haproxy exited during startup:\n${out}`);
    }
    if ((await adminCommand(o.socketPath, 'show info').catch(() => '')).includes('Name: HAProxy')) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`haproxy admin socket ${o.socketPath} did not answer within 10 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid: child.pid ?? -1, child, exited, output: () => out, stop };
}

/** One command on the admin socket (setup and cross-checks; the product uses the LB adapter). */
export function adminCommand(socketPath: string, cmd: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout on "${cmd}"`));
    }, timeoutMs);
    s.on('connect', () => s.write(`${cmd}\n`));
    s.on('data', (d: Buffer) => (buf += d.toString()));
    s.on('end', () => {
      clearTimeout(t);
      resolve(buf);
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** A free TCP port on 127.0.0.1 (bind 0, read, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
