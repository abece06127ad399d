/**
 * On a TTY (stderr): finished nodes and waves scroll by as permanent lines, and a live
 * block at the bottom shows the current wave, one line per node with its step (the
 * step record's label and what it is doing) and what it waits for, and an overall
 * `k/N nodes · ETA` line.
 */
import type { StepName } from '../run/journal.js';
import { Progress, type ProgressPlan, type Row } from '../run/progress.js';
import { stepNamed } from '../steps/index.js';
import type { Reporter } from '../steps/reporter.js';
import type { ProgressReporter } from '../run/progress.js';
import { formatDuration } from '../config/duration.js';
import { type Painter, painter } from './style.js';

export class TtyReporter implements Reporter, ProgressReporter {
  private readonly p = new Progress();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private quiet = false;
  private pauseUntil: number | undefined;
  private readonly c: Painter;

  constructor(
    private readonly out: NodeJS.WriteStream,
    color: boolean,
  ) {
    this.c = painter(color);
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
      const took = formatDuration((row.endedAt ?? Date.now()) - (row.startedAt ?? Date.now()));
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
      this.above(this.c.dim(`── wave ${w}/${total} finished in ${formatDuration(ms)} ──`));
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
      const what = cur ? `${this.c.bold(step?.label ?? cur.step)} ${this.c.dim(formatDuration(now - cur.since))}  ${cur.text || this.c.dim(step?.doing ?? '')}` : this.c.dim('…');
      lines.push(`  ${name}  ${this.bar(r)}  ${what}`);
    }
    if (plan) {
      const total = plan.waves.length;
      const eta = this.p.eta(now);
      const head =
        this.pauseUntil && this.pauseUntil > now
          ? `pausing ${formatDuration(this.pauseUntil - now)} before wave ${wave + 1}/${total}`
          : wave > 0
            ? `wave ${wave}/${total}`
            : 'starting';
      const etaText = eta !== undefined ? ` · ETA ${formatDuration(eta)} (${clock(now + eta)})` : '';
      lines.push(`${this.c.bold(head)} · ${this.p.finished}/${this.p.total} nodes${etaText} · ${this.c.dim(`elapsed ${formatDuration(now - this.p.startedAt)}`)}`);
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
