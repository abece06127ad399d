/**
 * Progress: on a TTY (stderr) a live list of nodes with their steps and what each
 * wait waits for; off a TTY, structured pino events (the pipeline logs step ends).
 */
import type { Logger } from 'pino';
import type { StepName } from '../journal.js';
import type { Reporter } from '../reporter.js';
import { formatDuration } from '../config/duration.js';

export function createReporter(o: { json: boolean; log: Logger; tty?: boolean; out?: NodeJS.WriteStream }): Reporter {
  const out = o.out ?? process.stderr;
  const tty = o.tty ?? (out.isTTY === true && !o.json && process.env.TERM !== 'dumb');
  return tty ? new TtyReporter(out) : new EventReporter(o.log);
}

class EventReporter implements Reporter {
  private lastWait = new Map<string, number>();
  constructor(private readonly log: Logger) {}
  stepStarted(node: string, step: StepName): void {
    this.log.info({ event: 'step.start', node, step }, `${node} ${step}`);
  }
  stepEnded(): void {}
  waiting(node: string, step: StepName, text: string): void {
    const k = `${node}/${step}`;
    const now = Date.now();
    if (now - (this.lastWait.get(k) ?? 0) < 1000) return;
    this.lastWait.set(k, now);
    this.log.info({ event: 'wait', node, step, detail: text }, text);
  }
  warn(node: string | undefined, text: string): void {
    this.log.warn({ event: 'warning', node }, text);
  }
  info(text: string): void {
    this.log.info({ event: 'info' }, text);
  }
  close(): void {}
}

interface Row {
  node: string;
  done: string[];
  current?: { step: StepName; since: number; text: string };
  failed?: string;
}

const GREEN = '\x1b[32m';
const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

class TtyReporter implements Reporter {
  private rows: Row[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly out: NodeJS.WriteStream) {}

  private row(node: string): Row {
    let r = this.rows.find((x) => x.node === node);
    if (!r) this.rows.push((r = { node, done: [] }));
    return r;
  }
  stepStarted(node: string, step: StepName): void {
    this.row(node).current = { step, since: Date.now(), text: '' };
    this.schedule();
  }
  stepEnded(node: string, step: StepName, outcome: 'done' | 'failed' | 'skipped', durationMs: number): void {
    const r = this.row(node);
    r.current = undefined;
    const mark = outcome === 'done' ? `${GREEN}✓${RESET}` : outcome === 'skipped' ? `${YELLOW}–${RESET}` : `${RED}✗${RESET}`;
    r.done.push(`${mark} ${step} ${DIM}${formatDuration(durationMs)}${RESET}`);
    if (outcome === 'failed') r.failed = step;
    this.draw();
  }
  waiting(node: string, step: StepName, text: string): void {
    const r = this.row(node);
    if (r.current?.step === step) r.current.text = text;
    this.schedule();
  }
  warn(node: string | undefined, text: string): void {
    this.above(`${YELLOW}warning${RESET}${node ? ` ${node}` : ''}: ${text}`);
  }
  info(text: string): void {
    this.above(text);
  }
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
    this.rows = [];
    this.drawn = 0;
  }
  private above(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }
  private schedule(): void {
    if (this.timer) return;
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
  private draw(): void {
    this.clear();
    const width = this.out.columns || 120;
    const lines: string[] = [];
    for (const r of this.rows) {
      lines.push(`${r.node}  ${r.done.join('  ')}`);
      if (r.current) {
        const t = formatDuration(Date.now() - r.current.since);
        lines.push(`  ▸ ${r.current.step} ${DIM}${t}${RESET}${r.current.text ? `: ${r.current.text}` : ''}`);
      }
    }
    const text = lines.map((l) => truncate(l, width)).join('\n');
    if (text) this.out.write(`${text}\n`);
    this.drawn = lines.length;
  }
}

function truncate(line: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = line.replace(/\x1b\[[0-9;]*m/g, '');
  return visible.length <= width ? line : `${visible.slice(0, width - 1)}…`;
}
