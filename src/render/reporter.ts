/**
 * Progress. On a TTY (stderr): finished nodes and waves scroll by as permanent lines,
 * and a live block at the bottom shows the current wave, one line per node with its
 * step and what it waits for, and an overall `k/N nodes · ETA` line. Off a TTY (or with
 * --json): structured pino events, each with `run_id`, `node`, `wave`.
 *
 * The reporter learns the plan through `beginProgress()` (waves, per-step expected
 * durations); without it (drain, undrain) it still shows each node's steps.
 */
import type { Logger } from 'pino';
import type { StepName } from '../run/journal.js';
import { RESTART_STEPS, stepNamed } from '../steps/index.js';
import type { Reporter } from '../steps/reporter.js';
import { formatDuration } from '../config/duration.js';
import { fmt } from '../config/duration.js';

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

export function createReporter(o: { json: boolean; log: Logger; tty?: boolean; out?: NodeJS.WriteStream }): Reporter {
  const out = o.out ?? process.stderr;
  const tty = o.tty ?? (out.isTTY === true && !o.json && process.env.TERM !== 'dumb');
  return tty ? new TtyReporter(out, process.env.NO_COLOR === undefined) : new EventReporter(o.log);
}

const RUNBOOK: readonly StepName[] = RESTART_STEPS.map((s) => s.name);

type NodeStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

interface Row {
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
class Progress {
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
      const members = [...this.rows.values()].filter((x) => x.wave === r.wave);
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

class EventReporter implements Reporter, ProgressReporter {
  private lastWait = new Map<string, number>();
  private readonly p = new Progress();
  constructor(private log: Logger) {}
  begin(plan: ProgressPlan): void {
    this.p.begin(plan);
    if (plan.log) this.log = plan.log;
  }
  private wave(node: string): { wave?: number } {
    const w = this.p.row(node).wave;
    return w ? { wave: w } : {};
  }
  stepStarted(node: string, step: StepName): void {
    this.p.started(node, step);
    this.log.info({ event: 'step.start', node, step, ...this.wave(node) }, `${node} ${step}`);
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
        `${this.p.finished}/${this.p.total} nodes${eta !== undefined ? `, ETA ${fmt(eta)}` : ''}`,
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

class TtyReporter implements Reporter, ProgressReporter {
  private readonly p = new Progress();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private quiet = false;
  private pauseUntil: number | undefined;
  private readonly c: Record<'green' | 'red' | 'yellow' | 'dim' | 'bold' | 'cyan', (s: string) => string>;

  constructor(
    private readonly out: NodeJS.WriteStream,
    color: boolean,
  ) {
    const wrap = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
    this.c = { green: wrap('32'), red: wrap('31'), yellow: wrap('33'), dim: wrap('2'), bold: wrap('1'), cyan: wrap('36') };
  }

  begin(plan: ProgressPlan): void {
    this.p.begin(plan);
    // A plan is printed whole at the end; a live view of a dry run would only flicker.
    this.quiet = plan.dryRun;
    if (!this.quiet && !this.ticker) {
      this.ticker = setInterval(() => this.draw(), 1000);
      this.ticker.unref();
    }
  }

  stepStarted(node: string, step: StepName): void {
    this.p.started(node, step);
    this.pauseUntil = undefined;
    this.schedule();
  }

  stepEnded(node: string, step: StepName, outcome: 'done' | 'failed' | 'skipped', durationMs: number, summary: string): void {
    const { nodeDone, waveDone, row } = this.p.ended(node, step, outcome, durationMs);
    if (this.quiet) return;
    const of = this.p.plan ? `wave ${row.wave}/${this.p.plan.waves.length}` : '';
    if (nodeDone) {
      const took = fmt((row.endedAt ?? Date.now()) - (row.startedAt ?? Date.now()));
      if (row.status === 'done') this.above(`${this.c.green('✓')} ${this.c.bold(node)} restarted in ${took}${of ? this.c.dim(`  (${of})`) : ''}`);
      else if (row.status === 'skipped') this.above(`${this.c.yellow('–')} ${this.c.bold(node)} ${summary}${of ? this.c.dim(`  (${of})`) : ''}`);
      else this.above(`${this.c.red('✗')} ${this.c.bold(node)} failed at ${step} after ${took}: ${summary.split('\n')[0]}`);
    } else if (!this.p.plan) {
      const mark = outcome === 'done' ? this.c.green('✓') : outcome === 'skipped' ? this.c.yellow('–') : this.c.red('✗');
      this.above(`${mark} ${node} ${step} ${this.c.dim(formatDuration(durationMs))}  ${summary.split('\n')[0]}`);
    }
    if (waveDone && this.p.plan) {
      const w = row.wave;
      const total = this.p.plan.waves.length;
      const ms = (this.p.waveEnd.get(w) ?? 0) - (this.p.waveStart.get(w) ?? 0);
      this.above(this.c.dim(`── wave ${w}/${total} finished in ${fmt(ms)} ──`));
      const anyFailed = [...this.p.rows.values()].some((r) => r.status === 'failed');
      if (w < total && this.p.plan.pauseMs > 0 && !anyFailed) this.pauseUntil = Date.now() + this.p.plan.pauseMs;
    }
    this.draw();
  }

  waiting(node: string, step: StepName, text: string): void {
    const r = this.p.row(node);
    if (r.current?.step === step) r.current.text = text;
    this.schedule();
  }

  warn(node: string | undefined, text: string): void {
    if (this.quiet) return;
    this.above(`${this.c.yellow('warning')}${node ? ` ${node}` : ''}: ${text}`);
  }

  info(text: string): void {
    if (this.quiet) return;
    this.above(this.c.dim(text));
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    this.timer = undefined;
    this.ticker = undefined;
    // The live block goes: the closing summary tells what happened.
    this.clear();
  }

  private above(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  private schedule(): void {
    if (this.timer || this.quiet) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
    this.timer.unref();
  }

  private clear(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private bar(r: Row): string {
    return this.p.steps
      .map((s) => {
        const d = r.steps.get(s);
        if (d) return d.outcome === 'done' ? this.c.green('●') : d.outcome === 'skipped' ? this.c.yellow('–') : this.c.red('✗');
        if (r.current?.step === s) return this.c.cyan('◐');
        return this.c.dim('○');
      })
      .join('');
  }

  private lines(now: number): string[] {
    const plan = this.p.plan;
    const lines: string[] = [];
    const wave = this.p.currentWave;
    const live = [...this.p.rows.values()].filter((r) => (plan ? r.wave === wave && wave > 0 : r.status === 'running' || r.current));
    for (const r of live) {
      if (r.status !== 'running' && plan) continue;
      const rack = this.p.plan?.racks?.get(r.node);
      const name = `${r.node}${rack ? ` ${this.c.dim(rack)}` : ''}`;
      const cur = r.current;
      const step = stepNamed(cur?.step ?? '');
      const what = cur ? `${this.c.bold(step?.label ?? cur.step)} ${this.c.dim(fmt(now - cur.since))}  ${cur.text || this.c.dim(step?.doing ?? '')}` : this.c.dim('…');
      lines.push(`  ${name}  ${this.bar(r)}  ${what}`);
    }
    if (plan) {
      const total = plan.waves.length;
      const eta = this.p.eta(now);
      const head =
        this.pauseUntil && this.pauseUntil > now
          ? `pausing ${fmt(this.pauseUntil - now)} before wave ${wave + 1}/${total}`
          : wave > 0
            ? `wave ${wave}/${total}`
            : 'starting';
      const etaText = eta !== undefined ? ` · ETA ${fmt(eta)} (${clock(now + eta)})` : '';
      lines.push(`${this.c.bold(head)} · ${this.p.finished}/${this.p.total} nodes${etaText} · ${this.c.dim(`elapsed ${fmt(now - this.p.startedAt)}`)}`);
    }
    return lines;
  }

  private draw(): void {
    if (this.quiet) return;
    this.clear();
    const width = this.out.columns || 120;
    const lines = this.lines(Date.now()).map((l) => truncate(l, width));
    if (lines.length) this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

function clock(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

/** Cuts a line to `width` visible columns, keeping its colour codes balanced. */
export function truncate(line: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const ansi = /\x1b\[[0-9;]*m/g;
  const visible = line.replace(ansi, '');
  if (visible.length <= width) return line;
  let out = '';
  let n = 0;
  let i = 0;
  while (i < line.length && n < width - 1) {
    ansi.lastIndex = i;
    const m = ansi.exec(line);
    if (m && m.index === i) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    out += line[i];
    i++;
    n++;
  }
  return `${out}…${out.includes('\x1b[') ? '\x1b[0m' : ''}`;
}
