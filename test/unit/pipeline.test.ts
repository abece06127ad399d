/** run/pipeline.ts with fake steps: order, safe points, resume from a step, a failing step's record. */
import { describe, expect, it } from 'vitest';
import { runPipeline, resultOf } from '../../src/run/pipeline.js';
import { StepError } from '../../src/util/errors.js';
import { StopController } from '../../src/util/stop.js';
import { fakeContext, fakeStep, recordingReporter } from '../support/fake-steps.js';

describe('runPipeline', () => {
  it('runs every step in order, journals each boundary and ends the node done', async () => {
    const steps = [fakeStep('a', { kind: 'check' }), fakeStep('b'), fakeStep('c')];
    const reporter = recordingReporter();
    const ctx = fakeContext('n1', { reporter });
    const out = await runPipeline(steps, ctx, { dryRun: false });
    expect(out.status).toBe('done');
    expect(out.steps.map((s) => [s.step, s.outcome])).toEqual([['a', 'done'], ['b', 'done'], ['c', 'done']]);
    expect(reporter.events).toEqual(['start n1 a', 'done n1 a', 'start n1 b', 'done n1 b', 'start n1 c', 'done n1 c']);
    expect(ctx.saved.status).toBe('done');
    expect(ctx.saved.step).toBe('c');
    expect(Object.keys(ctx.saved.steps)).toEqual(['a', 'b', 'c']);
    expect(ctx.saved.steps.b).toMatchObject({ outcome: 'done', summary: 'b done' });
  });

  it('resumes from a step: the earlier steps do not run again', async () => {
    const steps = [fakeStep('a'), fakeStep('b'), fakeStep('c')];
    const out = await runPipeline(steps, fakeContext('n1'), { dryRun: false, from: 'b' });
    expect(steps.map((s) => s.ran.length)).toEqual([0, 1, 1]);
    expect(out.steps.map((s) => s.step)).toEqual(['b', 'c']);
  });

  it('stops after `until` without marking the node done', async () => {
    const steps = [fakeStep('a', { kind: 'check' }), fakeStep('b')];
    const ctx = fakeContext('n1');
    const out = await runPipeline(steps, ctx, { dryRun: false, until: 'a' });
    expect(out.status).toBe('done');
    expect(steps[1]!.ran).toEqual([]);
    expect(ctx.saved.status).toBe('running');
  });

  it('a stop requested during a step is honoured at the next boundary: the next step never starts', async () => {
    const stop = new StopController();
    const steps = [fakeStep('a', { onRun: () => stop.request('signal', 'SIGINT') }), fakeStep('b')];
    const ctx = fakeContext('n1', { stop });
    const out = await runPipeline(steps, ctx, { dryRun: false });
    expect(out.status).toBe('interrupted');
    expect(steps[1]!.ran).toEqual([]);
    expect(out.error?.exitCode).toBe(130);
    expect(out.error?.details).toMatchObject({ node: 'n1', step: 'b' });
    expect(ctx.saved.status).toBe('interrupted');
    expect(ctx.saved.steps.a?.outcome).toBe('done');
  });

  it('a failing step: journalled failed with its message, the node failed, later steps skipped', async () => {
    const steps = [fakeStep('a'), fakeStep('b', { fail: () => new StepError('b broke', { next: 'fix b, then quantum-roll resume' }) }), fakeStep('c')];
    const ctx = fakeContext('n1');
    const out = await runPipeline(steps, ctx, { dryRun: false });
    expect(out.status).toBe('failed');
    expect(steps[2]!.ran).toEqual([]);
    expect(out.error?.details).toMatchObject({ node: 'n1', step: 'b' });
    expect(out.error?.message).toMatch(/b broke.*Next: fix b, then quantum-roll resume\./);
    expect(ctx.saved.status).toBe('failed');
    expect(ctx.saved.step).toBe('b');
    expect(ctx.saved.steps.b).toMatchObject({ outcome: 'failed' });
    expect(ctx.saved.error).toBe(out.error?.message);
  });

  it('a bare error in a check before any change says to run the same command again; in a change, to resume', async () => {
    const check = await runPipeline([fakeStep('a', { kind: 'check', fail: () => new Error('boom') })], fakeContext('n1'), { dryRun: false });
    expect(check.error?.details.next).toBe('run the same command again');
    const change = await runPipeline([fakeStep('a', { fail: () => new Error('boom') })], fakeContext('n1'), { dryRun: false });
    expect(change.error?.details.next).toBe('quantum-roll resume');
  });

  it('a TypeError inside a step is reported as a bug of quantum-roll, naming node and step, not as "fix the cause"', async () => {
    const out = await runPipeline([fakeStep('a', { fail: () => new TypeError("Cannot read properties of undefined (reading 'x')") })], fakeContext('n1'), { dryRun: false });
    expect(out.status).toBe('failed');
    expect(out.error?.name).toBe('InternalError');
    expect(out.error?.message).toMatch(/^a of n1 failed on a bug in quantum-roll \(TypeError: /);
    expect(out.error?.message).not.toMatch(/fix the cause/);
    expect(out.error?.exitCode).toBe(1);
  });

  it('a step that skips the node ends it skipped; its typed result is read back by the step', async () => {
    const a = fakeStep('a', { result: { summary: 'skipped: booted later', skipNode: true, data: { why: 'booted' } } });
    const b = fakeStep('b');
    const ctx = fakeContext('n1');
    const out = await runPipeline([a, b], ctx, { dryRun: false });
    expect(out.status).toBe('skipped');
    expect(b.ran).toEqual([]);
    expect(ctx.saved.status).toBe('skipped');
    expect(resultOf(a, out.steps)).toEqual({ why: 'booted' });
    expect(resultOf(b, out.steps)).toBeUndefined();
  });
});
