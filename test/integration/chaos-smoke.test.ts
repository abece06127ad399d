/**
 * A 5-run smoke of the seeded chaos campaign (chaos/campaign.mjs; `npm run chaos` runs
 * hundreds). Fixed run seeds, chosen to cover a never-ready node, a stolen lease, CP 503
 * storms and flaky answers, slow and throttled transfers, a replica down elsewhere, a
 * named node, and SIGINT/SIGTERM (twice)/SIGKILL of the CLI followed by resume. Every
 * invariant is checked from the simulator's record; the run must report none broken.
 *
 * lb_reload and lb_reenable are left out here until the re-assertion before the restart
 * (issue 13 item 1) lands: without it they find the known bug (RELIABILITY.md).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SEEDS = [1659453544, 471937472, 182830748, 1271664527, 1944807364];

describe('chaos campaign smoke (5 fixed seeds)', { timeout: 300_000 }, () => {
  let dir: string;
  let code: number | null;
  let output = '';
  let doc: any;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qr-chaos-smoke-'));
    const out = join(dir, 'results.json');
    const args = ['chaos/campaign.mjs', '--seeds', SEEDS.join(','), '--exclude', 'lb_reload,lb_reenable', '--concurrency', '2', '--out', out];
    code = await new Promise<number | null>((res, rej) => {
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (b) => (output += b));
      child.stderr.on('data', (b) => (output += b));
      child.on('error', rej);
      child.on('close', res);
    });
    doc = JSON.parse(await readFile(out, 'utf8'));
  }, 300_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('runs every seed and finds no invariant broken', () => {
    expect(code, output).toBe(0);
    expect(doc.summary.runs).toBe(SEEDS.length);
    expect(doc.summary.violations, output).toEqual({});
    expect(doc.results.map((r: any) => r.seed).sort()).toEqual([...SEEDS].sort());
  });

  it('actually injected faults and interrupted the CLI, and every run ended done or failed safely', () => {
    // never_ready is applied at 0 ms, so always; the rest depend on how long the runs last.
    expect(doc.summary.faults.never_ready).toBe(1);
    expect(Object.keys(doc.summary.faults).length, JSON.stringify(doc.summary.faults)).toBeGreaterThanOrEqual(4);
    const signals = doc.results.flatMap((r: any) => r.invocations.filter((i: any) => i.sent));
    expect(signals.length).toBeGreaterThanOrEqual(3);
    expect(doc.results.filter((r: any) => r.invocations.some((i: any) => i.cmd === 'resume')).length).toBeGreaterThanOrEqual(3);
    for (const r of doc.results) expect(r.outcome, `seed ${r.seed}`).toMatch(/^(done|failed safely \(exit [134]\))$/);
  });
});
