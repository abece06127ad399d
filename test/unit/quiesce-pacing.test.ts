/**
 * The closed-loop eviction's control law (src/steps/quiesce-pacing.ts), its config keys
 * (`quiesce.disconnect.*`, every bad value named by its key) and the quiesce step's bound.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/util/errors.js';
import { Pacer, cohortSize, mustReturn, pendingSetPoint } from '../../src/steps/quiesce-pacing.js';
import { quiesceStep } from '../../src/steps/quiesce.js';

const LAG = 2_000;
const pacer = (mode: 'adaptive' | 'fixed' = 'adaptive') => new Pacer({ mode, ceiling: 500, floor: 25, maxLagMs: LAG });

describe('the eviction pace (AIMD on pending clients, with an emergency stop)', () => {
  it('stays at the ceiling while the cluster keeps up', () => {
    const p = pacer();
    for (let t = 0; t < 20_000; t += 250) expect(p.observe(t, 300)).toBeUndefined(); // 300 < 500/s × 2 s
    expect(p.rate).toBe(500);
  });

  it('halves when more clients are pending than pace × max_lag, at most once per max_lag, never below the floor', () => {
    const p = pacer();
    const first = p.observe(0, 1_200);
    expect(first).toMatchObject({ rate: 250, previous: 500 });
    expect(first!.reason).toMatch(/pending/);
    expect(p.observe(250, 1_200), 'the same backlog is not counted twice').toBeUndefined();
    expect(p.observe(LAG, 1_200)).toMatchObject({ rate: 125 });
    let t = LAG;
    for (let i = 0; i < 10; i++) p.observe((t += LAG), 1_200);
    expect(p.rate).toBe(25);
  });

  it('speeds up again when clients catch up, back to the ceiling and no further', () => {
    const p = pacer();
    p.observe(0, 1_200);
    p.observe(LAG, 1_200);
    expect(p.rate).toBe(125);
    const rates: number[] = [];
    for (let t = 2 * LAG; t < 10 * LAG; t += LAG / 4) {
      p.observe(t, 0);
      rates.push(p.rate);
    }
    expect(rates.at(-1)).toBe(500);
    for (let i = 1; i < rates.length; i++) expect(rates[i]!).toBeGreaterThanOrEqual(rates[i - 1]!);
  });

  it('stops above twice the ceiling set point and resumes at the floor once pending is back under the floor set point', () => {
    const p = pacer();
    expect(p.observe(0, 2 * pendingSetPoint(500, LAG) + 1)).toMatchObject({ rate: 0, previous: 500 });
    expect(p.stopped).toBe(true);
    expect(p.observe(250, 1_000)).toBeUndefined();
    expect(p.observe(500, pendingSetPoint(25, LAG))).toMatchObject({ rate: 25, previous: 0 });
  });

  it('the front door answering a CONNECT more than max_lag / 2 above its quickest halves the pace (same spacing) and holds it while it lasts', () => {
    const p = pacer();
    const quick = { connectMs: 60, baselineMs: 40 };
    const slow = { connectMs: 40 + LAG / 2 + 1, baselineMs: 40 };
    expect(p.observe(0, 10, quick), 'a front door within max_lag / 2 of its quickest changes nothing').toBeUndefined();
    expect(p.observe(0, 10, { connectMs: 40 + LAG / 2, baselineMs: 40 }), 'exactly at the bound is not slow').toBeUndefined();
    const first = p.observe(250, 10, slow);
    expect(first).toMatchObject({ rate: 250, previous: 500 });
    expect(first!.reason).toMatch(/front door CONNACK 1041 ms > 1040 \(its quickest 40 ms \+ max_lag \/ 2\)/);
    expect(p.observe(500, 10, slow), 'not again within max_lag').toBeUndefined();
    // Few clients pending would raise the pace, but not while the front door is slow.
    for (let t = 500; t < 250 + LAG; t += LAG / 4) expect(p.observe(t, 0, slow)).toBeUndefined();
    expect(p.observe(250 + LAG, 0, slow)).toMatchObject({ rate: 125 });
    // Quick again: the pace climbs back.
    expect(p.observe(250 + LAG + LAG / 4, 0, quick)).toMatchObject({ rate: 125 + 63, previous: 125 });
  });

  it('fixed pacing never changes', () => {
    const p = pacer('fixed');
    expect(p.observe(0, 100_000)).toBeUndefined();
    expect(p.rate).toBe(500);
  });

  it('the cohort is a share with a floor, never more than the node has; "back" allows the tolerance', () => {
    expect(cohortSize(1_000, { share: 0.05, min: 5 })).toBe(50);
    expect(cohortSize(40, { share: 0.05, min: 5 })).toBe(5);
    expect(cohortSize(3, { share: 0.05, min: 5 })).toBe(3);
    expect(mustReturn(50, 0.95)).toBe(48);
    expect(mustReturn(5, 0.95)).toBe(5);
    expect(mustReturn(10, 0)).toBe(0);
  });
});

const yaml = (disconnect: string) => `control_plane: {url: "https://cp"}\nrestart: {command: [x]}\nquiesce: {grace: 10s, disconnect: ${disconnect}}\n`;
function problem(disconnect: string): string {
  try {
    parseConfig(yaml(disconnect), '/x/q.yaml', {});
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('quiesce.disconnect config', () => {
  it('the keys as written before issue 19 still load, with the closed loop and a cohort by default', () => {
    const c = parseConfig(yaml('{reason_code: 156, rate_per_s: 500}'), '/x/q.yaml', {});
    expect(c.quiesce.disconnect).toMatchObject({
      reason_code: 156,
      rate_per_s: 500,
      pacing: 'adaptive',
      max_lag: 2_000,
      cohort: { share: 0.05, min: 5, timeout: 10_000 },
      absorb: { ratio: 0.95, timeout: 10_000 },
    });
    const off = parseConfig(yaml('{reason_code: 139, pacing: fixed, cohort: false, absorb: {ratio: 0}}'), '/x/q.yaml', {});
    expect(off.quiesce.disconnect).toMatchObject({ pacing: 'fixed', cohort: false, absorb: { ratio: 0, timeout: 10_000 } });
  });

  it.each([
    ['{reason_code: 156, pacing: quick}', 'quiesce.disconnect.pacing'],
    ['{reason_code: 156, rate_per_s: 100, min_rate_per_s: 200}', 'quiesce.disconnect.min_rate_per_s'],
    ['{reason_code: 156, max_lag: soon}', 'quiesce.disconnect.max_lag'],
    ['{reason_code: 156, cohort: {share: 2}}', 'quiesce.disconnect.cohort.share'],
    ['{reason_code: 156, cohort: {min: 0}}', 'quiesce.disconnect.cohort.min'],
    ['{reason_code: 156, cohort: {timeout: 3}}', 'quiesce.disconnect.cohort.timeout'],
    ['{reason_code: 156, cohort: yes}', 'quiesce.disconnect.cohort'],
    ['{reason_code: 156, cohort: {sharex: 1}}', 'quiesce.disconnect.cohort.sharex'],
    ['{reason_code: 156, absorb: {ratio: 1.5}}', 'quiesce.disconnect.absorb.ratio'],
    ['{reason_code: 156, absorb: {wait: 1s}}', 'quiesce.disconnect.absorb.wait'],
  ])('%s is refused naming %s', (d, key) => {
    expect(problem(d)).toContain(`${key}:`);
  });

  it('a missing reason_code says it is required, not that 136 is a CONNACK code', () => {
    expect(problem('{rate_per_s: 20}')).toMatch(/quiesce\.disconnect\.reason_code: required: the MQTT 5 DISCONNECT code/);
    expect(problem('{reason_code: 136}')).toMatch(/quiesce\.disconnect\.reason_code: must be an MQTT 5 DISCONNECT code.*136 is a CONNACK code/);
  });
});

describe('the quiesce step bound', () => {
  it('covers the grace, the cohort check, the eviction at the floor pace and the wait for the cluster to take the clients back', () => {
    const c = parseConfig(yaml('{reason_code: 156, rate_per_s: 100, min_rate_per_s: 10, max_lag: 1s, cohort: {timeout: 4s}, absorb: {timeout: 6s}}'), '/x/q.yaml', {});
    const w = quiesceStep.waits(c, { id: 'node-1', lbMember: 'node-1', prgsLed: 0, sessions: 200 });
    expect(w.maxMs).toBe(10_000 + 4_000 + (200 / 10) * 1000 + 1_000 + 6_000);
    expect(w.for).toMatch(/cohort of 10/);
  });
});
