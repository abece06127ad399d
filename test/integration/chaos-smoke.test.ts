/**
 * A 5-run smoke of the seeded chaos campaign (chaos/campaign.mjs; `npm run chaos` runs
 * hundreds). Fixed run seeds, chosen to cover a never-ready node, a stolen lease, a CP 503
 * storm, flaky CP answers, slow and throttled transfers, a replica down elsewhere, LB
 * errors, a named node, and SIGINT/SIGTERM (twice)/SIGKILL of the CLI followed by
 * resume. Every invariant is checked from the simulator's record; the run must report
 * none broken.
 *
 * `--all-triggers`: every timed fault lands when the nth node enters a step, and every
 * signal after the nth step change of its invocation (both read from the journal), not
 * on the clock: on a fast machine a fault or signal due at 3 s would miss a run that
 * is over by then, on a slow one land elsewhere. What each run meets so depends on the
 * order of events, not on the machine's speed (two runs under different loads gave the
 * same 10 signals, 5 resumes and 10 of the 11 planned faults).
 *
 * The seeds were drawn without lb_reload and lb_reenable (the campaigns of RELIABILITY.md
 * cover them since the re-assertion before the restart landed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCampaign } from '../support/chaos.js';

const SEEDS = [1262125436, 557677843, 401756206, 1315008475, 1750314625];

describe('chaos campaign smoke (5 fixed seeds)', { timeout: 300_000 }, () => {
  let code: number | null;
  let output = '';
  let doc: any;
  let cleanup = async (): Promise<void> => undefined;
  beforeAll(async () => {
    ({ code, output, doc, cleanup } = await runCampaign(['--seeds', SEEDS.join(','), '--exclude', 'lb_reload,lb_reenable', '--all-triggers', '--concurrency', '2']));
  }, 300_000);
  afterAll(() => cleanup());

  it('runs every seed and finds no invariant broken', () => {
    expect(code, output).toBe(0);
    expect(doc.summary.runs).toBe(SEEDS.length);
    expect(doc.summary.violations, output).toEqual({});
    expect(doc.results.map((r: any) => r.seed).sort()).toEqual([...SEEDS].sort());
  });

  it('actually injected faults and interrupted the CLI, and every run ended done or failed safely', () => {
    // The plans hold 11 faults of 9 kinds and 10 signals (each run 2, on its first two
    // invocations). A step a node passes in under the watcher's poll (15 ms) is not seen,
    // so a trigger may come later or not at all: the bounds leave room for that.
    expect(doc.summary.faults.never_ready).toBe(1); // applied at 0 ms
    const kinds = doc.results.flatMap((r: any) => r.applied);
    expect(new Set(kinds).size, JSON.stringify(doc.summary.faults)).toBeGreaterThanOrEqual(7);
    const signals = doc.results.flatMap((r: any) => r.invocations.filter((i: any) => i.sent).map((i: any) => i.sent));
    expect(signals.length, JSON.stringify(signals)).toBeGreaterThanOrEqual(7);
    expect(new Set(signals)).toEqual(new Set(['SIGINT', 'SIGTERM', 'SIGKILL']));
    expect(doc.results.filter((r: any) => r.invocations.some((i: any) => i.cmd === 'resume')).length).toBeGreaterThanOrEqual(4);
    for (const r of doc.results) expect(r.outcome, `seed ${r.seed}`).toMatch(/^(done|failed safely \(exit [134]\))$/);
  });
});
