// waitFor (src/util/wait.ts): the closed-loop wait every step uses. On a fake clock, so
// what is checked is the schedule of probes waitFor chooses, never how fast a machine is.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../src/util/wait.js';

describe('waitFor with progress', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('probes again when progress says the wait is over, not up to maxMs later', async () => {
    const start = Date.now();
    const doneAt = start + 400;
    const probes: number[] = [];
    let progress = 0;
    const wait = waitFor(
      async () => {
        const now = Date.now();
        probes.push(now - start);
        progress = Math.min(1, (now - start) / 400);
        return now >= doneAt ? true : undefined;
      },
      { deadline: start + 5_000, what: 'replay', initialMs: 20, maxMs: 1_000, progress: () => progress },
    );
    await vi.runAllTimersAsync();
    await wait;
    const late = probes[probes.length - 1]! - 400;
    // A 1 s backoff cap alone would probe hundreds of ms after the end; the extrapolation lands within a poll.
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late, `probes at ${probes.join(', ')} ms`).toBeLessThan(100);
    expect(probes.length).toBeLessThan(20);
  });

  it('without progress, backs off up to maxMs', async () => {
    const start = Date.now();
    const probes: number[] = [];
    const wait = waitFor(
      async () => {
        probes.push(Date.now() - start);
        return Date.now() - start >= 3_000 ? true : undefined;
      },
      { deadline: start + 10_000, what: 'something', initialMs: 20, maxMs: 1_000 },
    );
    await vi.runAllTimersAsync();
    await wait;
    const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
    expect(Math.max(...gaps)).toBe(1_000);
    expect(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!)).toBe(true);
  });
});
