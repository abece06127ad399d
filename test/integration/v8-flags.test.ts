/**
 * The late V8 flags (src/clients/v8-flags.ts) change how fast and how big, never what
 * the CLI does: the same commands with them and with QUANTUM_ROLL_LATE_V8_FLAGS=0 give
 * the same documents and exit codes. A preload records which flags each run really set.
 */
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lateV8FlagsFor } from '../../src/clients/v8-flags.js';
import { CLI, type TestCluster } from '../support/cli.js';
import { useCluster } from '../support/inspect.js';

const SPY = join(import.meta.dirname, '../support/v8-flags-spy.mjs');

/** The CLI as operators run it, plus the preload; returns its exit code, JSON document and the flags it set. */
async function run(c: TestCluster, args: string[], flags: 'on' | 'off') {
  const file = join(await mkdtemp(join(tmpdir(), 'qr-v8-')), 'flags.json');
  const r = await execa(process.execPath, ['--import', SPY, CLI, ...args, '--config', c.config, '--json'], {
    reject: false,
    env: { QUANTUM_ROLL_CONFIG: '', QR_TEST_V8_FLAGS_FILE: file, ...(flags === 'off' ? { QUANTUM_ROLL_LATE_V8_FLAGS: '0' } : {}) },
    cwd: c.dir,
    stdin: 'ignore',
    timeout: 120_000,
  });
  const set = JSON.parse(await readFile(file, 'utf8')) as string[];
  return { code: r.exitCode, doc: r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, any>) : undefined, set, stderr: r.stderr };
}

/** A document without what differs between any two runs: run ids, times, durations. */
function stable(doc: unknown): unknown {
  return JSON.parse(JSON.stringify(doc), (k, v) => (/(^|_)(run_id|at|started_at|ended_at|finished_at|time|ms|duration_ms|elapsed_ms|log_file|journal)$/.test(k) ? undefined : v));
}

describe('late V8 flags', { timeout: 240_000 }, () => {
  let c: TestCluster;
  useCluster((x) => (c = x));

  it('are the measured ones for each Node version, and none elsewhere', () => {
    expect(lateV8FlagsFor('20.18.1')).toEqual(['--liftoff-only', '--semi-space-growth-factor=1']);
    expect(lateV8FlagsFor('22.23.3')).toEqual(['--liftoff-only', '--semi-space-growth-factor=1']);
    expect(lateV8FlagsFor('24.21.0')).toEqual(['--wasm-tiering-budget=2000000000']);
    expect(lateV8FlagsFor('26.0.0')).toEqual([]);
  });

  it('plan, a refused restart and a real restart: same documents and exit codes with and without them', async () => {
    const expected = lateV8FlagsFor(process.versions.node);
    for (const args of [['plan', 'node-3'], ['plan', '--all', '--parallel', 'auto'], ['restart', 'node-99', '--yes']]) {
      const on = await run(c, args, 'on');
      const off = await run(c, args, 'off');
      expect(on.set, args.join(' ')).toEqual(expected);
      expect(off.set, args.join(' ')).toEqual([]);
      expect(on.code, on.stderr).toBe(off.code);
      expect(stable(on.doc)).toEqual(stable(off.doc));
    }
    expect((await run(c, ['restart', 'node-99', '--yes'], 'on')).code).toBe(2);
    // A whole restart each way: same outcome, the node restarted once by each.
    const on = await run(c, ['restart', 'node-2', '--yes'], 'on');
    const off = await run(c, ['restart', 'node-4', '--yes'], 'off');
    expect(on.set).toEqual(expected);
    expect(off.set).toEqual([]);
    expect([on.code, off.code], `${on.stderr}\n${off.stderr}`).toEqual([0, 0]);
    expect(on.doc?.status).toBe(off.doc?.status);
    expect(on.doc?.nodes['node-2'].steps.map((s: any) => [s.step, s.status])).toEqual(off.doc?.nodes['node-4'].steps.map((s: any) => [s.step, s.status]));
    const stats = await c.sim.stats();
    expect([stats.restarts['node-2'], stats.restarts['node-4']]).toEqual([1, 1]);
  });
});
