/** Fake steps and a fake run environment for the engine's unit tests (run/pipeline.ts, run/roll.ts). */
import pino from 'pino';
import type { RunEnv, Step, StepContext, StepResult } from '../../src/steps/context.js';
import { emptyNodeRecord, type NodeRecord } from '../../src/steps/record.js';
import { silentReporter } from '../../src/steps/reporter.js';
import { StopController } from '../../src/util/stop.js';

export interface FakeStep extends Step {
  /** names of the nodes this step ran on, in order */
  ran: string[];
}

/** A step that records each run and returns `result` (or throws what `fail` returns). */
export function fakeStep(name: string, o: { kind?: 'check' | 'change'; result?: Partial<StepResult>; fail?: () => Error; onRun?: (ctx: StepContext) => void } = {}): FakeStep {
  const ran: string[] = [];
  const go = async (ctx: StepContext): Promise<StepResult> => {
    ran.push(ctx.node.id);
    o.onRun?.(ctx);
    if (o.fail) throw o.fail();
    return { summary: `${name} done`, ...o.result };
  };
  return {
    name,
    label: name,
    doing: `doing ${name}`,
    kind: o.kind ?? 'change',
    boundBy: [],
    waits: () => ({ for: name, maxMs: 1000, expectedMs: 10, expectedFrom: 'default' }),
    ran,
    run: go,
    plan: (ctx) => go(ctx as StepContext),
  };
}

/** Every event a reporter receives, in order, as `kind node step`. */
export function recordingReporter(): RunEnv['reporter'] & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    stepStarted: (n, s) => events.push(`start ${n} ${s}`),
    stepEnded: (n, s, outcome) => events.push(`${outcome} ${n} ${s}`),
    waiting: () => {},
    warn: (n, t) => events.push(`warn ${n ?? '-'} ${t}`),
    info: () => {},
    close: () => {},
  };
}

/** A step context on node `id` with an in-memory record, over a RunEnv whose clients are never called. */
export function fakeContext(id: string, env: Partial<RunEnv> = {}): StepContext & { saved: NodeRecord } {
  const record = emptyNodeRecord();
  const log = pino({ level: 'silent' });
  const fullEnv = {
    log,
    reporter: silentReporter,
    stop: new StopController(),
    runId: 'test-run',
    initiator: 'test',
    startedAt: Date.now(),
    options: { dryRun: false, allowOverload: false, force: false },
    ...env,
  } as RunEnv;
  const node = { id, rack: 'r1', adminUrl: `http://${id}`, lbMember: id } as StepContext['node'];
  return {
    env: fullEnv,
    node,
    runtime: {} as StepContext['runtime'],
    lbTarget: { node: id, member: id, adminUrl: node.adminUrl },
    wave: [id],
    record,
    saved: record,
    save: (change) => change(record),
    say: () => {},
    log,
    step: '',
  };
}
