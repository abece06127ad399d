/** Off a TTY (or with --json): progress as structured pino events, each with `run_id`, `node`, `wave`. */
import type { Logger } from '../util/log.js';
import type { StepName } from '../run/journal.js';
import { Progress, type ProgressPlan } from '../run/progress.js';
import type { Reporter } from '../steps/reporter.js';
import type { ProgressReporter } from '../run/progress.js';
import { formatDuration } from '../config/duration.js';

export class EventReporter implements Reporter, ProgressReporter {
  private lastWait = new Map<string, number>();
  private readonly p = new Progress();
  /** `own`: keep logging to this logger (the run log under a live view), with the run's bindings (run_id). */
  constructor(
    private log: Logger,
    private readonly own = false,
  ) {}
  begin(plan: ProgressPlan): void {
    this.p.begin(plan);
    if (plan.log) this.log = this.own ? this.log.child(plan.log.bindings()) : plan.log;
  }
  private wave(node: string): { wave?: number } {
    const w = this.p.row(node).wave;
    return w ? { wave: w } : {};
  }
  stepStarted(node: string, step: StepName): void {
    this.p.started(node, step);
    // A dry run's steps are planned, not taken: their events are debug (at 1,000 nodes, 7,000 lines of a plan).
    if (this.p.plan?.dryRun) this.log.debug({ event: 'step.start', node, step, ...this.wave(node) }, `${node} ${step}`);
    else this.log.info({ event: 'step.start', node, step, ...this.wave(node) }, `${node} ${step}`);
  }
  stepEnded(node: string, step: StepName, outcome: 'done' | 'failed' | 'skipped', durationMs: number): void {
    const { nodeDone, waveDone, row } = this.p.ended(node, step, outcome, durationMs);
    if (!this.p.plan || this.p.plan.dryRun) return;
    if (nodeDone) {
      const eta = this.p.eta();
      this.log.info(
        { event: 'node.done', node, wave: row.wave, status: row.status, duration_ms: (row.endedAt ?? 0) - (row.startedAt ?? 0) },
        `${node} ${row.status}`,
      );
      this.log.info(
        { event: 'progress', done: this.p.finished, total: this.p.total, ...(eta !== undefined ? { eta_s: Math.round(eta / 1000) } : {}) },
        `${this.p.finished}/${this.p.total} nodes${eta !== undefined ? `, ETA ${formatDuration(eta)}` : ''}`,
      );
    }
    if (waveDone) {
      const w = row.wave;
      this.log.info({ event: 'wave.done', wave: w, duration_ms: (this.p.waveEnd.get(w) ?? 0) - (this.p.waveStart.get(w) ?? 0) }, `wave ${w} done`);
    }
  }
  waiting(node: string, step: StepName, text: string): void {
    const k = `${node}/${step}`;
    const now = Date.now();
    if (now - (this.lastWait.get(k) ?? 0) < 1000) return;
    this.lastWait.set(k, now);
    this.log.info({ event: 'wait', node, step, ...this.wave(node), detail: text }, text);
  }
  warn(node: string | undefined, text: string): void {
    this.log.warn({ event: 'warning', node, ...(node ? this.wave(node) : {}) }, text);
  }
  info(text: string): void {
    this.log.info({ event: 'info' }, text);
  }
  close(): void {}
}

