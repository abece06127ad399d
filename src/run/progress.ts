/**
 * The progress model both reporters share: the plan (waves, per-step expectations),
 * which node is where, how far the run is, and the ETA, refined by what this run
 * observes. render/events.ts and render/live.ts draw it.
 */
import type { Logger } from '../util/log.js';
import type { StepName } from './journal.js';
import { RESTART_STEPS } from '../steps/index.js';
import type { Reporter } from '../steps/reporter.js';

export interface ProgressPlan {
  waves: readonly (readonly string[])[];
  racks?: ReadonlyMap<string, string>;
  /** the steps every node goes through, in order (default: the seven of a restart) */
  steps?: readonly StepName[];
  /** expected duration of each step, for the ETA (refined by what this run observes) */
  expectedMs: Partial<Record<StepName, number>>;
  pauseMs: number;
  dryRun: boolean;
  /** the run's logger (run_id bound); events go there from now on */
  log?: Logger;
  /** nodes already finished before this process (resume) */
  done?: readonly string[];
}

export interface ProgressReporter extends Reporter {
  begin(plan: ProgressPlan): void;
}

function isProgress(r: Reporter): r is ProgressReporter {
  return typeof (r as Partial<ProgressReporter>).begin === 'function';
}

/** Tells the reporter the plan, if it can use it. */
export function beginProgress(r: Reporter, plan: ProgressPlan): void {
  if (isProgress(r)) r.begin(plan);
}

const RUNBOOK: readonly StepName[] = RESTART_STEPS.map((s) => s.name);

export type NodeStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface Row {
  node: string;
  wave: number;
  status: NodeStatus;
  current?: { step: StepName; since: number; text: string };
  steps: Map<StepName, { outcome: 'done' | 'failed' | 'skipped'; ms: number }>;
  startedAt?: number;
  endedAt?: number;
  failure?: string;
}

/** What both reporters share: the plan, which node is where, how far the run is, the ETA. */
export class Progress {
  plan: ProgressPlan | undefined;
  readonly rows = new Map<string, Row>();
  readonly waveStart = new Map<number, number>();
  readonly waveEnd = new Map<number, number>();
  private readonly observed = new Map<StepName, { sum: number; n: number }>();
  startedAt = Date.now();

  begin(plan: ProgressPlan): void {
    this.plan = plan;
    this.startedAt = Date.now();
    plan.waves.forEach((w, i) => {
      for (const id of w) {
        const r = this.row(id);
        r.wave = i + 1;
        if (plan.done?.includes(id)) r.status = 'done';
      }
    });
  }

  get steps(): readonly StepName[] {
    return this.plan?.steps ?? RUNBOOK;
  }

  row(node: string): Row {
    let r = this.rows.get(node);
    if (!r) this.rows.set(node, (r = { node, wave: 0, status: 'pending', steps: new Map() }));
    return r;
  }

  started(node: string, step: StepName): Row {
    const r = this.row(node);
    const now = Date.now();
    r.status = 'running';
    r.startedAt ??= now;
    r.current = { step, since: now, text: '' };
    if (r.wave && !this.waveStart.has(r.wave)) this.waveStart.set(r.wave, now);
    return r;
  }

  /** Returns whether the node and whether its wave finished with this step. */
  ended(node: string, step: StepName, outcome: 'done' | 'failed' | 'skipped', ms: number): { nodeDone: boolean; waveDone: boolean; row: Row } {
    const r = this.row(node);
    r.current = undefined;
    r.steps.set(step, { outcome, ms });
    if (outcome === 'done') {
      const o = this.observed.get(step) ?? { sum: 0, n: 0 };
      o.sum += ms;
      o.n++;
      this.observed.set(step, o);
    }
    const last = this.steps[this.steps.length - 1];
    let nodeDone = false;
    if (outcome === 'failed') {
      r.status = 'failed';
      nodeDone = true;
    } else if (outcome === 'skipped') {
      r.status = 'skipped';
      nodeDone = true;
    } else if (this.plan && step === last) {
      r.status = 'done';
      nodeDone = true;
    }
    if (nodeDone) r.endedAt = Date.now();
    let waveDone = false;
    if (nodeDone && r.wave && !this.waveEnd.has(r.wave)) {
      // The wave's own nodes (waves are numbered from the plan's), not every row: a plan of
      // 1,000 one-node waves would otherwise look at 10⁶ rows.
      const ids = this.plan?.waves[r.wave - 1];
      const members = ids ? ids.map((id) => this.row(id)) : [...this.rows.values()].filter((x) => x.wave === r.wave);
      if (members.every((x) => x.status === 'done' || x.status === 'failed' || x.status === 'skipped')) {
        this.waveEnd.set(r.wave, Date.now());
        waveDone = true;
      }
    }
    return { nodeDone, waveDone, row: r };
  }

  expected(step: StepName): number {
    const o = this.observed.get(step);
    return o && o.n > 0 ? o.sum / o.n : (this.plan?.expectedMs[step] ?? 0);
  }

  get total(): number {
    return this.plan ? this.plan.waves.reduce((t, w) => t + w.length, 0) : this.rows.size;
  }

  get finished(): number {
    return [...this.rows.values()].filter((r) => r.status === 'done' || r.status === 'skipped').length;
  }

  /** The wave in progress (the last one that started), 0 before any. */
  get currentWave(): number {
    let w = 0;
    for (const k of this.waveStart.keys()) w = Math.max(w, k);
    return w;
  }

  private remainingOf(r: Row, now: number): number {
    if (r.status === 'done' || r.status === 'skipped' || r.status === 'failed') return 0;
    const steps = this.steps;
    let from: number;
    let t = 0;
    if (r.current) {
      from = steps.indexOf(r.current.step) + 1;
      t += Math.max(0, this.expected(r.current.step) - (now - r.current.since));
    } else {
      const doneSteps = steps.filter((s) => r.steps.has(s));
      from = doneSteps.length ? steps.indexOf(doneSteps[doneSteps.length - 1]!) + 1 : 0;
    }
    for (const s of steps.slice(from)) t += this.expected(s);
    return t;
  }

  /** Expected time left, or undefined without a plan. */
  eta(now = Date.now()): number | undefined {
    const plan = this.plan;
    if (!plan) return undefined;
    const nodeTotal = this.steps.reduce((t, s) => t + this.expected(s), 0);
    let t = 0;
    plan.waves.forEach((w, i) => {
      const rows = w.map((id) => this.row(id));
      if (rows.every((r) => r.status === 'done' || r.status === 'skipped')) return;
      const started = rows.some((r) => r.startedAt !== undefined);
      if (started) {
        t += Math.max(0, ...rows.map((r) => this.remainingOf(r, now)));
      } else {
        t += nodeTotal + (i > 0 ? plan.pauseMs : 0);
      }
    });
    return t;
  }
}

