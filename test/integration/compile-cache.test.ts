/**
 * Node's compile cache (cli.ts, Node ≥ 22.1) changes how fast a command starts, never
 * what it does: the same commands with it (cold, then warm) and with
 * NODE_DISABLE_COMPILE_CACHE=1 give the same documents and exit codes. The cache is
 * kept in the user's cache dir ($XDG_CACHE_HOME or ~/.cache), never the shared temp
 * dir. On Node 20 (no such cache) the runs are alike and nothing is written.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeModule from 'node:module';
import { describe, expect, it } from 'vitest';
import { CLI, type TestCluster } from '../support/cli.js';
import { useCluster } from '../support/inspect.js';

const HAS_CACHE = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';

async function run(c: TestCluster, args: string[], env: Record<string, string>) {
  const r = await execa(process.execPath, [CLI, ...args, '--config', c.config, '--json'], {
    reject: false,
    env: { QUANTUM_ROLL_CONFIG: '', NODE_COMPILE_CACHE: '', ...env },
    cwd: c.dir,
    stdin: 'ignore',
    timeout: 120_000,
  });
  return { code: r.exitCode, doc: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined, stderr: r.stderr };
}

/** A document without what differs between any two runs: run ids, times, durations. */
function stable(doc: unknown): unknown {
  return JSON.parse(JSON.stringify(doc), (k, v) => (/(^|_)(run_id|at|started_at|ended_at|finished_at|time|ms|duration_ms|elapsed_ms|log_file|journal)$/.test(k) ? undefined : v));
}

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []);

describe('compile cache', { timeout: 240_000 }, () => {
  let c: TestCluster;
  useCluster((x) => (c = x));

  it('plan and a refused restart: same documents and exit codes cold, warm and without it; the cache in the user\'s cache dir', async () => {
    const home = mkdtempSync(join(tmpdir(), 'qr-home-'));
    const xdg = mkdtempSync(join(tmpdir(), 'qr-xdg-'));
    for (const args of [['plan', 'node-3'], ['plan', '--all', '--parallel', 'auto'], ['restart', 'node-99', '--yes']]) {
      const off = await run(c, args, { HOME: home, NODE_DISABLE_COMPILE_CACHE: '1' });
      const cold = await run(c, args, { HOME: home });
      const warm = await run(c, args, { HOME: home });
      const viaXdg = await run(c, args, { HOME: home, XDG_CACHE_HOME: xdg });
      for (const r of [cold, warm, viaXdg]) {
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(off.code);
        expect(stable(r.doc)).toEqual(stable(off.doc));
      }
    }
    expect((await run(c, ['restart', 'node-99', '--yes'], { HOME: home })).code).toBe(2);
    expect(files(join(home, '.cache', 'quantum-roll', 'compile-cache')).length > 0).toBe(HAS_CACHE);
    expect(files(join(xdg, 'quantum-roll', 'compile-cache')).length > 0).toBe(HAS_CACHE);
  });
});
