// `sim start` / `sim stop` with a detached supervisor, plus bearer-token auth everywhere.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readSimJson, type SimInfo } from '../../src/sim/index.js';
import { get, tempDir } from '../support/http.js';

const simCli = path.resolve(import.meta.dirname, '../../dist/sim/sim-cli.js');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [simCli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let stateDir = '';
let info: SimInfo | null = null;

afterAll(async () => {
  if (info && alive(info.pid)) await runCli(['sim', 'stop', '--state-dir', stateDir]);
});

describe('sim start / stop (detached supervisor)', () => {
  it('starts, refuses a second start, enforces the token, stops cleanly', async () => {
    stateDir = await tempDir();
    const start = await runCli(['sim', 'start', '--state-dir', stateDir, '--nodes', '3', '--prgs', '30', '--token', 's3cret', '--fault', 'noBatch=true']);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    info = readSimJson(stateDir);
    expect(info).not.toBeNull();
    if (!info) return;
    expect(start.stdout).toContain(info.cpUrl);
    expect(start.stdout).toContain(`export QUANTUM_ROLL_CONFIG=${info.configPath}`);
    expect(alive(info.pid)).toBe(true);
    expect(info.nodes.every((n) => n.pid !== null && alive(n.pid))).toBe(true);

    const again = await runCli(['sim', 'start', '--state-dir', stateDir]);
    expect(again.code).toBe(2);

    const config = parse(await fs.readFile(info.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(config.control_plane).toEqual({ url: info.cpUrl, token_env: 'SIM_TOKEN' });
    expect(config.node_api).toEqual({ token_env: 'SIM_TOKEN' });
    expect(config.lb).toEqual({ adapter: 'http', url: info.lbUrl, pool: 'mqtt', token_env: 'SIM_TOKEN' });
    // The small restart entry (dist/sim/restart-node.js), not a whole CLI start per restart.
    expect(config.restart?.command).toEqual([process.execPath, expect.stringMatching(/dist\/sim\/restart-node\.js$/), '--state-dir', stateDir, '{node}']);

    const auth = { authorization: 'Bearer s3cret' };
    const node = info.nodes[0]?.adminUrl ?? '';
    for (const url of [`${info.cpUrl}/v1/cluster/state`, `${info.lbUrl}/v1/pools/mqtt/members/node-1`, `${node}/readyz`]) {
      const denied = await get(url);
      expect(denied.status).toBe(401);
      expect(denied.json).toMatchObject({ error: { code: 'unauthorized' } });
      expect((await get(url, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await get(url, auth)).status).toBe(200);
    }
    expect((await get(`${info.cpUrl}/v1/features`, auth)).json).toEqual({ batch_leader_transfer: false });

    const status = await runCli(['sim', 'status', '--state-dir', stateDir]);
    expect(status.stdout).toContain(info.cpUrl);

    const stop = await runCli(['sim', 'stop', '--state-dir', stateDir]);
    expect(stop.code).toBe(0);
    expect(alive(info.pid)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(info.nodes.some((n) => n.pid !== null && alive(n.pid))).toBe(false);
    const stopAgain = await runCli(['sim', 'stop', '--state-dir', stateDir]);
    expect(stopAgain.code).toBe(0);
    expect(stopAgain.stdout).toContain('no simulator running');
  });
});
