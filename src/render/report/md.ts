/**
 * The report in markdown for a CI job summary (`$GITHUB_STEP_SUMMARY`): the header, a
 * summary table (one row per node, plan ETA beside what happened), a mermaid gantt with
 * one task per node step, and the warnings and failures. GitHub renders mermaid up to
 * 50,000 characters: a larger roll's gantt has one task per node (or per wave) instead,
 * and says so.
 */
import { formatDuration } from '../../config/duration.js';
import type { ReportModel, StepBar } from './model.js';
import { barMs, dur, headerPairs, nodeRow, notes } from './summary.js';

/** GitHub's mermaid limit (maxTextSize), with room for the fence. */
export const MERMAID_MAX_CHARS = 49_000;

/** A table cell: no pipe, no newline, no HTML. */
const cell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A mermaid task or section name: none of `:`, `;`, `#`, and no line break. */
const mname = (s: string): string => s.replace(/[:;#\r\n]+/g, ' ').replace(/\s+/g, ' ').trim() || '-';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** `YYYY-MM-DD HH:mm:ss.SSS` in UTC, the gantt's dateFormat. */
function mdate(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

function tag(outcomes: Array<StepBar['outcome']>): string {
  if (outcomes.includes('failed')) return 'crit, ';
  if (outcomes.includes('unfinished')) return 'active, ';
  return 'done, ';
}

export type GanttGrain = 'step' | 'node' | 'wave';

/** The mermaid gantt of the run, at the finest grain that fits GitHub's limit. */
export function gantt(m: ReportModel): { text: string; grain: GanttGrain } {
  for (const grain of ['step', 'node', 'wave'] as const) {
    const text = ganttAt(m, grain);
    if (text.length <= MERMAID_MAX_CHARS || grain === 'wave') return { text, grain };
  }
  throw new Error('unreachable');
}

function ganttAt(m: ReportModel, grain: GanttGrain): string {
  const lines = ['gantt', `  title run ${mname(m.run_id)} (UTC)`, '  dateFormat YYYY-MM-DD HH:mm:ss.SSS', '  axisFormat %H:%M:%S'];
  let id = 0;
  const task = (name: string, bars: StepBar[]) => {
    const start = Math.min(...bars.map((b) => b.start));
    const end = Math.max(start + 1, ...bars.map((b) => b.end));
    lines.push(`    ${mname(name)} :${tag(bars.map((b) => b.outcome))}t${++id}, ${mdate(start)}, ${mdate(end)}`);
  };
  if (grain === 'wave') {
    lines.push('  section waves');
    const waves = new Map<string, StepBar[]>();
    for (const n of m.nodes) for (const b of n.bars) waves.set(n.wave === null ? 'no wave' : `wave ${n.wave}`, [...(waves.get(n.wave === null ? 'no wave' : `wave ${n.wave}`) ?? []), b]);
    for (const [w, bars] of waves) task(`${w} ${formatDuration(Math.max(...bars.map((b) => b.end)) - Math.min(...bars.map((b) => b.start)))}`, bars);
    return lines.join('\n');
  }
  let section = '';
  for (const n of m.nodes) {
    if (!n.bars.length) continue;
    const s = grain === 'step' ? `wave ${n.wave ?? '-'} ${n.id}` : `wave ${n.wave ?? '-'}`;
    if (s !== section) lines.push(`  section ${mname(s)}`);
    section = s;
    if (grain === 'node') task(`${n.id} ${formatDuration(n.bars.reduce((a, b) => a + barMs(b), 0))}`, n.bars);
    else for (const b of n.bars) task(`${b.step} ${formatDuration(barMs(b))}`, [b]);
  }
  return lines.join('\n');
}

export function renderMarkdown(m: ReportModel): string {
  const out: string[] = [];
  const icon = m.status === 'done' ? '✅' : m.status === 'refused' ? '⛔' : '❌';
  out.push(`## ${icon} quantum-roll run \`${m.run_id}\`: ${m.status}${m.exit_code === null ? '' : ` (exit ${m.exit_code})`}`, '');
  out.push('| | |', '| --- | --- |');
  for (const [k, v] of headerPairs(m)) out.push(`| ${cell(k)} | ${cell(v)} |`);
  out.push('');
  for (const n of notes(m)) out.push(`> ⚠️ ${cell(n)}`, '');
  if (m.nodes.length) {
    out.push('### Nodes', '', '| wave | node | status | steps | actual | plan ETA | plan max | failed step | warnings |', '| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |');
    for (const n of m.nodes) {
      const r = nodeRow(m, n);
      out.push(`| ${r.wave} | ${cell(r.node)} | ${r.status} | ${r.steps} | ${dur(r.actual_ms)} | ${dur(r.expected_ms)} | ${dur(r.max_ms)} | ${cell(r.failed_step ?? '')} | ${r.warnings} |`);
    }
    out.push('');
  }
  if (m.nodes.some((n) => n.bars.length)) {
    const g = gantt(m);
    out.push('### Timeline', '');
    if (g.grain !== 'step') out.push(`One task per ${g.grain}: one per node step would pass GitHub's mermaid size limit. The HTML report (\`quantum-roll report --format html\`) has every step.`, '');
    out.push('```mermaid', g.text, '```', '');
  }
  const drains = m.quiesce.filter((q) => q.samples.length || q.cohort || q.disconnects.length);
  if (drains.length) {
    out.push('### Drains', '', '| node | requested pace | disconnected / requested | cohort check |', '| --- | --- | --- | --- |');
    for (const q of drains) {
      const last = q.samples.at(-1);
      const rates = [...new Set([...q.disconnects.map((d) => d.rate_per_s), ...q.paces.map((p) => p.rate_per_s)].filter((r): r is number => r !== null))];
      const requested = last ? `${last.disconnected} / ${last.requested}` : `— / ${q.disconnects.reduce((s, d) => s + d.requested, 0)}`;
      const cohort = q.cohort ? `${q.cohort.returned}/${q.cohort.size} ${q.cohort.ok ? 'ok' : '**failed**'}` : '—';
      out.push(`| ${cell(q.node)} | ${rates.map((r) => `${r}/s`).join(' → ') || '—'} | ${requested} | ${cohort} |`);
    }
    out.push('');
  }
  if (m.issues.length) {
    out.push('### Warnings and failures', '', '| level | node | step | what happened | next |', '| --- | --- | --- | --- | --- |');
    const shown = m.issues.slice(0, 200);
    for (const i of shown) out.push(`| ${i.level} | ${cell(i.node ?? '—')} | ${cell(i.step ?? '—')} | ${cell(i.message.slice(0, 500))} | ${cell(i.next ?? '—')} |`);
    if (m.issues.length > shown.length) out.push(`| | | | … ${m.issues.length - shown.length} more in the HTML report | |`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
