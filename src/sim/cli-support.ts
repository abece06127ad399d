// Helpers behind `quantum-roll sim …`: finding a running supervisor through sim.json,
// calling its control API, starting and stopping the detached supervisor process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readSimJson, SIM_JSON, type SimInfo } from './config-files.js';
import { supervisorMainPath } from './paths.js';
import type { SimOptions } from './types.js';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function control(info: SimInfo, method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${info.controlUrl}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** The simulator running in stateDir, or null (stale sim.json files are ignored). */
export async function runningSim(stateDir: string): Promise<SimInfo | null> {
  const info = readSimJson(stateDir);
  if (!info || !pidAlive(info.pid)) return null;
  try {
    const r = await control(info, 'GET', '/_sim/info');
    return r.status === 200 ? info : null;
  } catch {
    return null;
  }
}

/** Environment variable that hands `sim start --token` to the detached supervisor. */
export const SUPERVISOR_TOKEN_ENV = 'QUANTUM_ROLL_SIM_TOKEN';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Spawns a detached supervisor and waits until it wrote its sim.json. */
export async function startDetached(opts: SimOptions, timeoutMs = 60_000): Promise<SimInfo> {
  const stateDir = path.resolve(opts.stateDir);
  fs.mkdirSync(stateDir, { recursive: true });
  fs.rmSync(path.join(stateDir, SIM_JSON), { force: true });
  const logFd = fs.openSync(path.join(stateDir, 'sim.log'), 'a');
  // The token travels in the environment, not in argv (visible to `ps`).
  const { token, ...rest } = opts;
  const env = { ...process.env };
  if (token) env[SUPERVISOR_TOKEN_ENV] = token;
  else delete env[SUPERVISOR_TOKEN_ENV];
  const child = spawn(process.execPath, [supervisorMainPath(), '--options', JSON.stringify({ ...rest, stateDir })], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env,
  });
  fs.closeSync(logFd);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? 1));
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = readSimJson(stateDir);
    if (info && info.pid === child.pid) return info;
    if (exited !== null) throw new Error(`the supervisor exited with code ${exited}; see ${path.join(stateDir, 'sim.log')}`);
    await sleep(50);
  }
  throw new Error(`the supervisor did not become ready within ${timeoutMs} ms; see ${path.join(stateDir, 'sim.log')}`);
}

/** Asks the supervisor to stop, then makes sure its process is gone. */
export async function stopRunning(info: SimInfo): Promise<void> {
  try {
    await control(info, 'POST', '/_sim/stop');
  } catch {
    // fall through to signals
  }
  const deadline = Date.now() + 10_000;
  while (pidAlive(info.pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(info.pid)) {
    process.kill(info.pid, 'SIGKILL');
    for (const n of info.nodes) if (n.pid !== null && n.pid !== info.pid && pidAlive(n.pid)) process.kill(n.pid, 'SIGKILL');
  }
  fs.rmSync(path.join(info.stateDir, SIM_JSON), { force: true });
}
