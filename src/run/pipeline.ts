/**
 * Runs the steps of one node in order, journals each boundary, and stops safely:
 * a stop request is honoured between steps and inside waits that are safe points.
 */
import type { Step, StepContext, StepResult } from '../steps/context.js';
import { InterruptedError, QrError, StepError, asQrError, isBug, messageOf } from '../util/errors.js';
import type { NodeRecord, StepName } from './journal.js';
import { isStop } from '../util/stop.js';

export interface StepReport {
  step: StepName;
  outcome: 'done' | 'failed' | 'skipped';
  duration_ms: number;
  summary: string;
  actions?: string[];
  warnings?: string[];
  /** the step's typed result: read it with `resultOf(step, reports)` */
  data?: unknown;
}

/** The typed result one step left in a node's reports (undefined when it did not run or left none). */
export function resultOf<D>(step: Step<D>, reports: readonly StepReport[] | undefined): D | undefined {
  return reports?.find((r) => r.step === step.name)?.data as D | undefined;
}

export interface NodeOutcome {
  node: string;
  status: 'done' | 'skipped' | 'failed' | 'interrupted';
  steps: StepReport[];
  warnings: string[];
  error?: QrError;
}

export interface PipelineOptions {
  dryRun: boolean;
  /** Re-enter at this step (resume); earlier steps are not run again. */
  from?: StepName;
  /** Run only the steps up to and including this one (used to precheck a wave first). */
  until?: StepName;
}

export async function runPipeline(steps: readonly Step[], ctx: StepContext, opts: PipelineOptions): Promise<NodeOutcome> {
  const { env, node } = ctx;
  const out: NodeOutcome = { node: node.id, status: 'done', steps: [], warnings: [] };
  let started = opts.from === undefined;
  for (const step of steps) {
    if (!started) {
      if (step.name !== opts.from) continue;
      started = true;
    }
    if (!opts.dryRun) {
      try {
        env.stop.check(`before ${step.name} of ${node.id}`);
      } catch (err) {
        const qr = stopped(err as QrError, ctx.record, node.id, step.name);
        saveIfWritable(ctx, (r) => {
          r.status = qr.exitCode === 130 ? 'interrupted' : 'failed';
          r.error = qr.message;
        });
        out.status = qr.exitCode === 130 ? 'interrupted' : 'failed';
        out.error = qr;
        return out;
      }
    }
    const t0 = Date.now();
    // The step's logger is made when the step first logs: a plan of 1,000 nodes runs 7,000
    // steps, most of which log nothing, and a pino child (with redaction) is not free.
    // (Not a spread of ctx: that would read its own lazy `log` and `record` at once.)
    let stepLog: StepContext['log'] | undefined;
    const sctx: StepContext = {
      env: ctx.env,
      node: ctx.node,
      runtime: ctx.runtime,
      lbTarget: ctx.lbTarget,
      wave: ctx.wave,
      get record() {
        return ctx.record;
      },
      save: ctx.save,
      say: (text) => env.reporter.waiting(node.id, step.name, text),
      get log() {
        return (stepLog ??= ctx.log.child({ step: step.name }));
      },
      step: step.name,
    };
    env.reporter.stepStarted(node.id, step.name);
    try {
      // Every step begins with a journal write: a journal that cannot be written stops the node here, before the step changes anything.
      ctx.save((r) => markStep(r, step.name, 'running'));
    } catch (err) {
      const qr = asStepError(err, ctx.record, node.id, step);
      env.reporter.stepEnded(node.id, step.name, 'failed', 0, qr.message);
      env.log.error({ event: 'step.failed', node: node.id, step: step.name, duration_ms: 0, err: qr.message }, qr.message);
      out.steps.push({ step: step.name, outcome: 'failed', duration_ms: 0, summary: qr.message });
      out.status = 'failed';
      out.error = qr;
      return out;
    }
    let result: StepResult;
    try {
      result = opts.dryRun ? await step.plan(sctx) : await step.run(sctx);
    } catch (err) {
      const duration = Date.now() - t0;
      const qr = isStop(err)
        ? stopped(err, ctx.record, node.id, step.name)
        : isBug(err)
          ? // A TypeError inside a step is a bug of ours, reported as one (not "fix the cause").
            asQrError(err, { node: node.id, step: step.name, left: leftAs(ctx.record, node.id), log: sctx.log })
          : asStepError(err, ctx.record, node.id, step);
      saveIfWritable(ctx, (r) => {
        markStep(r, step.name, 'failed', duration, qr.message);
        r.status = qr.exitCode === 130 ? 'interrupted' : 'failed';
        r.error = qr.message;
      });
      env.reporter.stepEnded(node.id, step.name, 'failed', duration, qr.message);
      env.log.error({ event: 'step.failed', node: node.id, step: step.name, duration_ms: duration, err: qr.message }, qr.message);
      out.steps.push({ step: step.name, outcome: 'failed', duration_ms: duration, summary: qr.message });
      out.status = qr.exitCode === 130 ? 'interrupted' : 'failed';
      out.error = qr;
      return out;
    }
    const duration = Date.now() - t0;
    const outcome = result.skipNode ? 'skipped' : 'done';
    for (const w of result.warnings ?? []) env.reporter.warn(node.id, w);
    out.warnings.push(...(result.warnings ?? []));
    out.steps.push({ step: step.name, outcome, duration_ms: duration, summary: result.summary, actions: result.actions, warnings: result.warnings, data: result.data });
    try {
      ctx.save((r) => markStep(r, step.name, outcome === 'done' ? 'done' : 'skipped', duration, result.summary));
    } catch (err) {
      // The step's work is done but cannot be recorded: nothing further changes.
      const qr = asStepError(err, ctx.record, node.id, step);
      env.reporter.stepEnded(node.id, step.name, 'failed', duration, qr.message);
      env.log.error({ event: 'step.failed', node: node.id, step: step.name, duration_ms: duration, err: qr.message }, qr.message);
      out.steps.push({ step: step.name, outcome: 'failed', duration_ms: duration, summary: qr.message });
      out.status = 'failed';
      out.error = qr;
      return out;
    }
    env.reporter.stepEnded(node.id, step.name, outcome, duration, result.summary);
    // A dry run's steps are planned, not done: debug (a plan of 1,000 nodes would write 7,000 such lines).
    (opts.dryRun ? env.log.debug : env.log.info).call(env.log, { event: 'step.done', node: node.id, step: step.name, duration_ms: duration, summary: result.summary }, `${node.id} ${step.name}: ${result.summary}`);
    if (result.skipNode) {
      out.status = 'skipped';
      saveIfWritable(ctx, (r) => {
        r.status = 'skipped';
      });
      return out;
    }
    if (step.name === opts.until) return out;
  }
  // A journal that fails here stops the run at the next node's first write.
  saveIfWritable(ctx, (r) => {
    r.status = 'done';
  });
  return out;
}

/** The bookkeeping of a failure: a journal that cannot be written is already the run's error, not a second one. */
function saveIfWritable(ctx: StepContext, change: (r: NodeRecord) => void): void {
  try {
    ctx.save(change);
  } catch {
    // the failed write is reported by the step that hit it
  }
}

function markStep(r: NodeRecord, step: StepName, outcome: 'running' | 'done' | 'failed' | 'skipped', duration?: number, summary?: string): void {
  const now = new Date().toISOString();
  if (outcome === 'running') {
    r.status = 'running';
    r.step = step;
    r.steps[step] = { started_at: now, ended_at: null, outcome };
    return;
  }
  const prev = r.steps[step];
  r.steps[step] = { started_at: prev?.started_at ?? now, ended_at: now, outcome, duration_ms: duration, summary };
}

/**
 * Every failure leaves the pipeline as a QrError naming the node and the step. A
 * step's own errors say what they left and what to run next; anything else (a
 * transport or protocol error from a client) gets that said here, from the journal.
 */
function asStepError(err: unknown, r: NodeRecord, node: string, s: Step): QrError {
  const step = s.name;
  if (err instanceof QrError && err.details.next) {
    if (!err.details.node) (err.details as { node?: string }).node = node;
    if (!err.details.step) (err.details as { step?: string }).step = step;
    // The one paragraph ends with the exact next command.
    if (!err.message.includes(err.details.next)) err.message = `${err.message.replace(/\.?\s*$/, '.')} Next: ${err.details.next}.`;
    return err;
  }
  const { text, drained, changed } = leftAs(r, node);
  // A check that failed before this node changed: nothing to resume, the same command runs it again.
  const next = drained ? `quantum-roll resume (or, once ${node} is ready, quantum-roll undrain ${node})` : s.kind === 'check' && !changed ? 'run the same command again' : 'quantum-roll resume';
  const msg = `${step} of ${node} failed: ${messageOf(err)}. ${changed ? text : 'Nothing was changed'}; fix the cause, then ${next}.`;
  const details = { ...(err instanceof QrError ? err.details : {}), node, step, next };
  return err instanceof QrError && err.exitCode !== 1 ? Object.assign(err, { details }) : new StepError(msg, details, { cause: err });
}

/** What a stop left the node as, from its journal record: for messages. */
export function leftAs(r: NodeRecord, node: string): { text: string; drained: boolean; changed: boolean } {
  const reached = (s: StepName) => r.steps[s] !== undefined;
  if (r.steps.readmit?.outcome === 'done') return { text: `${node} is back in service`, drained: false, changed: true };
  if (reached('drain') && (r.lb_out_at !== null || r.steps.drain?.outcome === 'done')) {
    const restarted = r.boot_id_after !== null ? ', restarted,' : '';
    return { text: `${node} is left${restarted} drained and out of the LB`, drained: true, changed: true };
  }
  if (reached('drain')) {
    return { text: `the drain of ${node} did not finish: its drain flag may be set while its LB member is still in service (see quantum-roll status)`, drained: true, changed: true };
  }
  if (reached('leader-transfer')) return { text: `${node} was not drained and still serves`, drained: false, changed: true };
  return { text: `nothing was changed on ${node}`, drained: false, changed: false };
}

/** A stop honoured at a safe point: one paragraph with the node's state and what to run next. */
function stopped(err: QrError, r: NodeRecord, node: string, step: StepName): QrError {
  const { text, drained } = leftAs(r, node);
  const next = drained ? `quantum-roll resume (or, once ${node} is ready, quantum-roll undrain ${node})` : 'quantum-roll resume';
  const lost = (err.details.evidence as { reason?: string } | undefined)?.reason === 'lease_lost';
  const advice = lost
    ? `Check who holds the lease (quantum-roll status); once no one else is working on the cluster, run ${next}.`
    : `Nothing further was changed; run ${next} to finish.`;
  const msg = `${err.message}. ${text}. ${advice}`;
  const details = { ...err.details, node, step, next };
  return err.exitCode === 130 ? new InterruptedError(msg, details) : new StepError(msg, details);
}
