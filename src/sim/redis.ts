/**
 * The shared session store of the simulated brokers: one Debian `redis-server` per
 * simulator, started by the supervisor on a unix socket in the state dir. It stands in
 * for Clustor (Quantum's replicated log): node faults (restart, SIGKILL) never touch it,
 * so every session, subscription, QoS 1/2 in-flight and offline queue and retained
 * message survives its node. In memory only (`--save ''`, no AOF): the simulator's
 * durability promise is "survives any node", not "survives the store".
 *
 * The server runs under a tiny `sh` watchdog reading the supervisor's pipe: when the
 * supervisor dies (even by SIGKILL) the pipe closes and the watchdog stops redis, so no
 * redis-server outlives its simulator.
 */
import { watchExit } from './child-exit.js';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REDIS_INSTALL_HINT =
  'redis-server is not installed (the simulated brokers keep their sessions in it): apt-get install -y redis-server (Debian/Ubuntu), then run again';

export function findRedisServer(): string | undefined {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Unix socket paths are limited to ~107 bytes: a long state dir gets a socket in the temp dir. */
export function redisSocketPath(stateDir: string): string {
  const p = path.join(stateDir, 'redis.sock');
  if (Buffer.byteLength(p) <= 100) return p;
  const h = crypto.createHash('sha1').update(stateDir).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `qr-redis-${h}.sock`);
}

export interface RunningRedis {
  socket: string;
  /** The redis-server's own pid (not the watchdog's). */
  pid: number;
  stop(): Promise<void>;
}

/** One RESP command over the socket; resolves with the raw reply text. */
export function redisCommand(socket: string, args: string[], timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socket);
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`redis ${args[0] ?? ''}: no answer on ${socket} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      // A simple (+/-/:) reply ends at the first CRLF; a bulk ($n) one after n more bytes.
      const m = /^\$(\d+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || (!buf.startsWith('$') && buf.includes('\r\n'))) {
        clearTimeout(t);
        s.destroy();
        resolve(m ? buf.slice(m[0].length, m[0].length + Number(m[1])) : buf.trim());
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export async function launchRedis(stateDir: string, bin = findRedisServer()): Promise<RunningRedis> {
  if (!bin) throw new Error(REDIS_INSTALL_HINT);
  const socket = redisSocketPath(stateDir);
  fs.rmSync(socket, { force: true });
  const args = [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', stateDir,
    '--logfile', path.join(stateDir, 'redis.log'),
    '--databases', '1',
  ];
  // The watchdog: redis in the background, `read` blocks on our pipe; EOF (we closed it, or died) stops redis.
  const script = `"$0" "$@" </dev/null & r=$!; read _ ; kill $r 2>/dev/null; wait $r`;
  const child: ChildProcess = spawn('sh', ['-c', script, bin, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const life = watchExit(child);
  const exited = life.exited;
  const logTail = (): string => {
    try {
      return fs.readFileSync(path.join(stateDir, 'redis.log'), 'utf8').split('\n').slice(-8).join('\n');
    } catch {
      return err;
    }
  };
  let pid = -1;
  const stop = async (): Promise<void> => {
    if (life.alive) {
      child.stdin?.end();
      const killer = setTimeout(() => {
        child.kill('SIGKILL');
        if (pid > 0) process.kill(pid, 'SIGKILL');
      }, 3_000);
      await exited;
      clearTimeout(killer);
    }
    fs.rmSync(socket, { force: true });
  };
  const until = Date.now() + 10_000;
  for (;;) {
    if (!life.alive) throw new Error(`redis-server exited during startup:\n${logTail()}`);
    const info = await redisCommand(socket, ['INFO', 'server']).catch(() => '');
    const m = /process_id:(\d+)/.exec(info);
    if (m) {
      pid = Number(m[1]);
      break;
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`redis-server did not answer on ${socket} within 10 s:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { socket, pid, stop };
}
