/**
 * What the three formats of the report share: the header lines and the per-node summary
 * rows (plan ETA beside what happened), computed once from the model.
 */
import { formatDuration } from '../../config/duration.js';
import type { NodeModel, ReportModel, StepBar } from './model.js';

export const STEP_ORDER = ['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck'];

export interface NodeRow {
  wave: string;
  node: string;
  status: string;
  steps: number;
  /** time in steps (both parts of a resumed run; the pause between them not counted) */
  actual_ms: number;
  expected_ms: number | null;
  max_ms: number | null;
  failed_step: string | null;
  warnings: number;
}

export const barMs = (b: StepBar): number => Math.max(0, b.end - b.start);

export function nodeRow(m: ReportModel, n: NodeModel): NodeRow {
  const expected = n.eta.length ? n.eta.reduce((s, x) => s + x.expected_ms, 0) : null;
  const max = n.eta.length ? n.eta.reduce((s, x) => s + x.max_ms, 0) : null;
  return {
    wave: n.wave === null ? '—' : String(n.wave),
    node: n.id,
    status: n.status,
    steps: n.bars.length,
    actual_ms: n.bars.reduce((s, b) => s + barMs(b), 0),
    expected_ms: expected,
    max_ms: max,
    failed_step: n.bars.findLast((b) => b.outcome === 'failed')?.step ?? null,
    warnings: m.issues.filter((i) => i.node === n.id).length,
  };
}

export const dur = (ms: number | null): string => (ms === null ? '—' : formatDuration(ms));

export function statusLine(m: ReportModel): string {
  const code = m.exit_code === null ? '' : ` (exit ${m.exit_code})`;
  return `${m.status}${code}`;
}

/** The header as label/value pairs, in the order every format shows them. */
export function headerPairs(m: ReportModel): Array<[string, string]> {
  const pairs: Array<[string, string]> = [
    ['run', m.run_id],
    ['outcome', statusLine(m)],
    ['command', m.command ?? '—'],
    ['who', m.initiator ?? '—'],
    ['when', `${iso(m.started)} → ${iso(m.ended)} (${formatDuration(m.ended - m.started)})`],
    ['config', m.config_file ?? '—'],
  ];
  if (m.parts.length > 1) pairs.push(['processes', `${m.parts.length} (${m.parts.map((p) => p.argv[0] ?? '?').join(', then ')})`]);
  const nodes = m.nodes.length;
  const done = m.nodes.filter((n) => n.status === 'done').length;
  pairs.push(['nodes', `${done}/${nodes} done in ${m.waves.length} wave(s)`]);
  if (m.eta.node_expected_ms !== null || m.eta.waves.length) {
    const planned = m.eta.waves.reduce((s, w) => s + w.expected_ms, 0);
    pairs.push(['plan ETA', `${formatDuration(planned)} expected${m.eta.basis ? ` (${m.eta.basis})` : ''}, ${formatDuration(m.eta.waves.reduce((s, w) => s + w.max_ms, 0))} at most`]);
  }
  if (m.next) pairs.push(['next', m.next]);
  return pairs;
}

/** What the report could not read, one sentence each (empty when it read everything). */
export function notes(m: ReportModel): string[] {
  const out: string[] = [];
  const shown = m.unreadable.slice(0, 20);
  for (const u of shown) out.push(`line ${u.line} not read: ${u.reason}`);
  if (m.unreadable.length > shown.length) out.push(`… and ${m.unreadable.length - shown.length} more unreadable line(s)`);
  const unk = Object.entries(m.unknown);
  if (unk.length) out.push(`${unk.reduce((s, [, c]) => s + c, 0)} event(s) this version does not know (a newer quantum-roll's?), not drawn: ${unk.map(([k, c]) => `${k} ×${c}`).join(', ')}`);
  if (!m.nodes.some((n) => n.eta.length)) out.push('the log holds no plan ETA (a log from before the run.plan event, or a run that ended before its plan)');
  return out;
}

export function iso(t: number): string {
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function sortedSteps(bars: readonly StepBar[]): StepBar[] {
  return [...bars].sort((a, b) => a.start - b.start);
}
