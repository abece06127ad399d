/** The report for a terminal: the header, one line per node (plan ETA beside what happened), warnings and failures. */
import type { Painter } from '../style.js';
import { table } from '../table.js';
import type { ReportModel } from './model.js';
import { dur, headerPairs, nodeRow, notes } from './summary.js';

export function renderText(m: ReportModel, p: Painter): string {
  const out: string[] = [];
  const paint = m.status === 'done' ? p.green : p.red;
  out.push(`${p.bold(`run ${m.run_id}`)}: ${paint(m.status)}${m.exit_code === null ? '' : ` (exit ${m.exit_code})`}`);
  const pairs = headerPairs(m).filter(([k]) => k !== 'run' && k !== 'outcome');
  const w = Math.max(...pairs.map(([k]) => k.length));
  for (const [k, v] of pairs) out.push(`  ${p.dim(k.padEnd(w))}  ${v}`);
  for (const n of notes(m)) out.push(p.yellow(`  note: ${n}`));
  if (m.nodes.length) {
    out.push('');
    const rows = m.nodes.map((n) => {
      const r = nodeRow(m, n);
      return [r.wave, r.node, r.status === 'done' ? p.green(r.status) : r.status === 'failed' ? p.red(r.status) : r.status, String(r.steps), dur(r.actual_ms), dur(r.expected_ms), r.failed_step ?? '', String(r.warnings)];
    });
    out.push(...table(['WAVE', 'NODE', 'STATUS', 'STEPS', 'ACTUAL', 'PLAN ETA', 'FAILED STEP', 'WARNINGS'], rows, '  ').map((l, i) => (i === 0 ? p.dim(l) : l)));
  }
  const drains = m.quiesce.filter((q) => q.samples.length || q.cohort);
  if (drains.length) {
    out.push('');
    for (const q of drains) {
      const last = q.samples.at(-1);
      const rate = [...new Set(q.samples.map((s) => s.rate_per_s).filter((r): r is number => r !== null))].map((r) => `${r}/s`).join(' → ');
      out.push(`  ${q.node} drained: ${last ? `${last.disconnected} of ${last.requested} disconnected` : 'no samples'}${rate ? ` at ${rate}` : ''}${q.cohort ? `; cohort ${q.cohort.returned}/${q.cohort.size} ${q.cohort.ok ? 'ok' : p.red('FAILED')}` : ''}`);
    }
  }
  if (m.issues.length) {
    out.push('', p.bold('warnings and failures'));
    for (const i of m.issues.slice(0, 100)) {
      const where = [i.node, i.step].filter(Boolean).join(' ');
      out.push(`  ${i.level === 'error' ? p.red('error') : p.yellow('warn ')} ${where ? `${where}: ` : ''}${i.message.split('\n')[0]!.slice(0, 300)}`);
      if (i.next) out.push(`        next: ${i.next}`);
    }
    if (m.issues.length > 100) out.push(`  … ${m.issues.length - 100} more (quantum-roll report --format html)`);
  }
  return `${out.join('\n')}\n`;
}
