// The simulator's restart command (what `restart.command` of the generated config runs):
// restart one simulated node through the supervisor's control API (three calls: faults,
// the restart_command event, the restart). It is a process of
// its own for every restart, so it loads nothing but node:fs and node:http: started from
// dist/sim/restart-node.js it costs about a bare `node -e 0` (a real `ssh … systemctl
// restart` costs the orchestrator no Node start-up either). `quantum-roll sim
// restart-node` runs the same function.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/** What the command prints: one line to stdout or stderr. */
export interface RestartIo {
  out(line: string): void;
  err(line: string): void;
}

/** The part of sim.json this command reads (config-files.ts writes it). */
interface SimJson {
  pid: number;
  controlUrl: string;
  nodes: Array<{ id: string }>;
}

function readSim(stateDir: string): SimJson | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, 'sim.json'), 'utf8')) as SimJson;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One JSON call to the supervisor's control API (plain http on loopback, no token). */
function call(base: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(p, base),
      { method, agent, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const applies = (knob: unknown, node: string): boolean => (Array.isArray(knob) ? knob.includes(node) : knob === true);

/**
 * Restarts `node` of the simulator running in `stateDir`, honouring the restart faults
 * (restartHang, restartFail, restartNoop). Resolves with the exit code: 0 restarted (or
 * noop), 1 no simulator / the restart failed, 2 unknown node, 3 restartFail; never
 * resolves under restartHang (the orchestrator's restart.timeout ends it).
 */
export async function restartNode(stateDir: string, node: string, io: RestartIo): Promise<number> {
  const dir = path.resolve(stateDir);
  const info = readSim(dir);
  // The faults read doubles as the liveness check of the supervisor sim.json names (a stale file answers nothing).
  const read = info !== null && alive(info.pid) ? await call(info.controlUrl, 'GET', '/_sim/faults').catch(() => undefined) : undefined;
  try {
    if (!info || !read || read.status !== 200) {
      io.err(`no simulator running in ${dir}`);
      return 1;
    }
    if (!info.nodes.some((n) => n.id === node)) {
      io.err(`unknown node ${node} (known: ${info.nodes.map((n) => n.id).join(', ')})`);
      return 2;
    }
    const faults = read.json as Record<string, unknown>;
    const note = (outcome: string) => call(info.controlUrl, 'POST', '/_sim/events', { event: 'restart_command', node, outcome });
    if (applies(faults.restartHang, node)) {
      await note('hang');
      io.err(`restart of ${node} hangs (fault restartHang)`);
      agent.destroy();
      setInterval(() => undefined, 60_000);
      return new Promise<number>(() => undefined);
    }
    if (applies(faults.restartFail, node)) {
      await note('fail');
      io.err(`restart of ${node} failed (fault restartFail)`);
      return 3;
    }
    if (applies(faults.restartNoop, node)) {
      await note('noop');
      io.out(`restart of ${node} requested (fault restartNoop: nothing restarted)`);
      return 0;
    }
    await note('restart');
    const r = await call(info.controlUrl, 'POST', `/_sim/nodes/${encodeURIComponent(node)}/restart`);
    if (r.status === 404) {
      io.err(`unknown node ${node}`);
      return 2;
    }
    if (r.status !== 200) {
      io.err(`restart of ${node} failed: HTTP ${r.status} ${JSON.stringify(r.json)}`);
      return 1;
    }
    const body = r.json as { boot_id?: string; pid?: number };
    io.out(`restarted ${node} (boot_id ${body.boot_id ?? '?'}, pid ${body.pid ?? '?'})`);
    return 0;
  } finally {
    agent.destroy();
  }
}
