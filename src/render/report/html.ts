/**
 * The report as one self-contained HTML page: inline CSS and SVG, no script, no font, no
 * URL it would fetch, so it opens offline (ops hosts are often cut off) and prints.
 * Sized for a 1,000-node roll: one SVG row per node, session charts downsampled to a
 * bounded number of points and series (BENCHMARKS.md has the figures).
 */
import { formatDuration } from '../../config/duration.js';
import type { NodeModel, Quiesce, ReportModel, Sample } from './model.js';
import { STEP_ORDER, barMs, dur, headerPairs, iso, nodeRow, notes, sortedSteps, statusLine } from './summary.js';

/** At most this many series per session chart (the draining node always among them). */
export const MAX_SERIES = 12;
/** At most this many points per series; a 1,000-node roll keeps its charts small. */
const MAX_POINTS_TOTAL = 250_000;
const MAX_POINTS_SERIES = 240;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

const STEP_COLOURS: Record<string, string> = {
  precheck: '#8c96a8',
  'leader-transfer': '#7b61c9',
  drain: '#d9892b',
  quiesce: '#e0b21f',
  restart: '#2f7fd0',
  readmit: '#2aa37a',
  postcheck: '#6aa84f',
};
const SERIES_COLOURS = ['#2f7fd0', '#2aa37a', '#7b61c9', '#d9892b', '#8c6d31', '#17becf', '#bcbd22', '#e377c2', '#7f7f7f', '#1f5f8b', '#5b8c2a'];

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d232b;margin:0;background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d6dae0;padding-bottom:4px}
h3{font-size:14px;margin:12px 0 4px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;font-size:13px;color:#fff;background:#6b7685;vertical-align:middle}
.st-done{background:#2a8a5a}.st-failed,.st-unfinished,.st-interrupted{background:#c0392b}.st-refused{background:#b9770e}
dl.hdr{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:10px 0}
dl.hdr dt{color:#5b6573}dl.hdr dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e1e4e8;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.msg{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word}
.over{color:#c0392b;font-weight:600}.ok{color:#2a8a5a}.bad{color:#c0392b;font-weight:600}
.note{background:#fff8e1;border:1px solid #f0d27a;padding:6px 10px;margin:6px 0;font-size:13px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:4px 0 6px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:-1px}
svg{display:block;background:#fff;border:1px solid #e1e4e8}
svg text{font:11px system-ui,sans-serif;fill:#3a434e}
svg .axis line{stroke:#e6e9ed}svg .wave-h{fill:#f0f2f5}
svg .bar{stroke:#fff;stroke-width:.5}svg .o-failed{stroke:#c0392b;stroke-width:2}svg .o-unfinished{opacity:.55;stroke:#c0392b;stroke-dasharray:3 2}
svg .wait{stroke:#1d232b;stroke-width:1}svg .eta{stroke:#1d232b;stroke-width:1.5;stroke-dasharray:4 3}
svg .gap{fill:url(#hatch)}svg .series{fill:none;stroke-width:1.3}svg .series.draining{stroke:#c0392b;stroke-width:3}
svg .mark{stroke:#6b7685;stroke-dasharray:2 3}svg .absorb{fill:#eef6f0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
.chart{background:#fff;border:1px solid #e1e4e8;padding:8px}
.chart svg{border:none}
.chart dl{display:grid;grid-template-columns:max-content 1fr;gap:0 12px;margin:6px 0 0;font-size:12px}.chart dd{margin:0}
.scroll{overflow-x:auto}
footer{margin-top:30px;color:#6b7685;font-size:12px}
@media print{body{background:#fff;font-size:11px}main{max-width:none;padding:0}section,.chart,tr{break-inside:avoid}.scroll{overflow:visible}svg{max-width:100%;height:auto}}
`;

export function renderHtml(m: ReportModel, opts: { generatedAt?: Date } = {}): string {
  const out: string[] = [];
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>quantum-roll report · ${esc(m.run_id)} · ${esc(statusLine(m))}</title>`,
    `<style>${CSS}</style></head><body><main>`,
  );
  out.push(`<header><h1>quantum-roll · run ${esc(m.run_id)} <span class="badge st-${esc(m.status)}" id="status">${esc(statusLine(m))}</span></h1>`);
  out.push('<dl class="hdr">');
  for (const [k, v] of headerPairs(m)) out.push(`<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`);
  out.push('</dl></header>');
  const ns = notes(m);
  if (ns.length) out.push(`<section id="notes">${ns.map((n) => `<div class="note">${esc(n)}</div>`).join('')}</section>`);
  if (m.error) out.push(`<div class="note"><b>${esc([m.error.node, m.error.step].filter(Boolean).join(' · ') || 'error')}</b>: ${esc(m.error.message)}</div>`);
  timeline(m, out);
  etaTable(m, out);
  sessions(m, out);
  canary(m, out);
  leadership(m, out);
  issues(m, out);
  out.push(`<footer>quantum-roll report of ${esc(m.file)} (${m.lines} lines)${opts.generatedAt ? `, made ${esc(iso(opts.generatedAt.getTime()))}` : ''}. Read from the run log only; nothing was asked of the cluster.</footer>`);
  out.push('</main></body></html>\n');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000];
  return steps.find((s) => s >= raw) ?? 3_600_000 * Math.ceil(raw / 3_600_000);
}

function timeline(m: ReportModel, out: string[]): void {
  out.push('<section id="timeline"><h2>Timeline</h2>');
  const bars = m.nodes.flatMap((n) => n.bars);
  if (!bars.length) {
    out.push('<p>No step ran in this log.</p></section>');
    return;
  }
  out.push('<div class="legend">');
  for (const s of STEP_ORDER) out.push(`<span><i style="background:${STEP_COLOURS[s]}"></i>${s}</span>`);
  out.push('<span><i style="background:#fff;border:2px solid #c0392b"></i>failed</span><span><i style="background:#ccc;border:1px dashed #c0392b"></i>never finished</span>');
  out.push('<span><i style="background:#1d232b;width:2px"></i>a wait</span><span><i style="border-top:2px dashed #1d232b;height:0;width:16px"></i>plan ETA of the node</span><span><i style="background:#e8e8e8"></i>no process ran</span></div>');
  const t0 = Math.min(m.started, ...bars.map((b) => b.start));
  const t1 = Math.max(m.ended, ...bars.map((b) => b.end));
  const span = Math.max(1, t1 - t0);
  const LABEL = 120;
  const PW = 1060;
  const W = LABEL + PW + 20;
  const ROW = 16;
  const WAVE = 18;
  const x = (t: number): number => LABEL + ((t - t0) / span) * PW;
  const byWave = new Map<string, NodeModel[]>();
  for (const n of m.nodes) {
    const k = n.wave === null ? 'no wave' : `wave ${n.wave}`;
    byWave.set(k, [...(byWave.get(k) ?? []), n]);
  }
  let y = 24;
  const body: string[] = [];
  for (const [label, nodes] of byWave) {
    const ran = nodes.filter((n) => n.bars.length);
    const wIdx = nodes[0]?.wave;
    const we = wIdx != null ? m.eta.waves[wIdx - 1] : undefined;
    body.push(`<rect class="wave-h" x="0" y="${y}" width="${W}" height="${WAVE}"/><text x="4" y="${y + 13}" font-weight="600">${esc(label)} · ${nodes.length} node(s)${we ? ` · plan ${esc(formatDuration(we.expected_ms))}` : ''}</text>`);
    y += WAVE;
    for (const n of nodes) {
      body.push(`<g class="row" data-node="${esc(n.id)}"><text x="4" y="${y + 12}">${esc(n.id.length > 18 ? `${n.id.slice(0, 17)}…` : n.id)}</text>`);
      for (const b of n.bars) {
        const bx = x(b.start);
        const bw = Math.max(1.5, x(b.end) - bx);
        const tip = `${b.node} ${b.step}: ${formatDuration(barMs(b))} (${b.outcome === 'unfinished' ? 'never finished' : b.outcome})${b.summary ? ` — ${b.summary}` : ''}`;
        body.push(
          `<rect class="bar o-${b.outcome}" data-node="${esc(b.node)}" data-step="${esc(b.step)}" data-outcome="${b.outcome}" x="${f1(bx)}" y="${y + 2}" width="${f1(bw)}" height="${ROW - 4}" fill="${STEP_COLOURS[b.step] ?? '#999'}"><title>${esc(tip.slice(0, 300))}</title></rect>`,
        );
        for (const w of b.waits.slice(0, 8)) body.push(`<line class="wait" x1="${f1(x(w.t))}" x2="${f1(x(w.t))}" y1="${y + 1}" y2="${y + 5}"><title>${esc(w.detail.slice(0, 200))}</title></line>`);
      }
      const expected = n.eta.reduce((s, e) => s + e.expected_ms, 0);
      const first = sortedSteps(n.bars)[0];
      if (expected > 0 && first && ran.length) {
        const ex = Math.min(LABEL + PW, x(first.start + expected));
        body.push(`<line class="eta" x1="${f1(x(first.start))}" x2="${f1(ex)}" y1="${y + ROW - 1}" y2="${y + ROW - 1}"><title>${esc(`plan: ${n.id} expected ${formatDuration(expected)}`)}</title></line>`);
      }
      body.push('</g>');
      y += ROW;
    }
  }
  const H = y + 6;
  const axis: string[] = ['<g class="axis">'];
  const step = niceStep(span, 10);
  for (let t = 0; t <= span; t += step) {
    const xx = f1(x(t0 + t));
    axis.push(`<line x1="${xx}" x2="${xx}" y1="18" y2="${H}"/><text x="${xx}" y="13" text-anchor="middle">${esc(formatDuration(t))}</text>`);
  }
  axis.push('</g>');
  // The gaps between the processes of a resumed run: nothing ran there.
  const gaps: string[] = [];
  for (let i = 1; i < m.parts.length; i++) {
    const a = m.parts[i - 1]!.end ?? Math.max(...bars.filter((b) => b.part === i - 1).map((b) => b.end), m.parts[i - 1]!.t);
    const b = m.parts[i]!.t;
    if (b > a) gaps.push(`<rect class="gap" x="${f1(x(a))}" y="18" width="${f1(Math.max(1, x(b) - x(a)))}" height="${H - 18}"><title>${esc(`no quantum-roll process ran: ${formatDuration(b - a)} between ${m.parts[i - 1]!.argv[0] ?? 'the run'} and ${m.parts[i]!.argv[0] ?? 'its resume'}`)}</title></rect>`);
  }
  out.push(
    `<div class="scroll"><svg id="timeline-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="timeline of run ${esc(m.run_id)}">`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f3f3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d0d0d0" stroke-width="2"/></pattern></defs>',
    ...axis,
    ...gaps,
    ...body,
    '</svg></div></section>',
  );
}

function etaTable(m: ReportModel, out: string[]): void {
  out.push('<section id="eta"><h2>Plan ETA vs actual</h2>');
  if (!m.nodes.length) {
    out.push('<p>No node in this log.</p></section>');
    return;
  }
  const steps = STEP_ORDER.filter((s) => m.nodes.some((n) => n.bars.some((b) => b.step === s) || n.eta.some((e) => e.step === s)));
  out.push('<div class="scroll"><table><thead><tr><th>wave</th><th>node</th><th>status</th>');
  for (const s of steps) out.push(`<th>${esc(s)}</th>`);
  out.push('<th>node: actual / plan</th></tr></thead><tbody>');
  for (const n of m.nodes) {
    const r = nodeRow(m, n);
    out.push(`<tr><td class="n">${esc(r.wave)}</td><td>${esc(n.id)}</td><td class="${n.status === 'failed' ? 'bad' : n.status === 'done' ? 'ok' : ''}">${esc(n.status)}</td>`);
    for (const s of steps) {
      const actual = n.bars.filter((b) => b.step === s).reduce((a, b) => a + barMs(b), 0);
      const ran = n.bars.some((b) => b.step === s);
      const e = n.eta.find((x) => x.step === s);
      const over = e && ran && actual > e.max_ms;
      out.push(`<td class="n${over ? ' over' : ''}">${ran ? esc(formatDuration(actual)) : '—'}${e ? ` / ${esc(formatDuration(e.expected_ms))}` : ''}</td>`);
    }
    out.push(`<td class="n">${esc(dur(r.actual_ms))} / ${esc(dur(r.expected_ms))}</td></tr>`);
  }
  out.push('</tbody></table></div><p>Each cell: time the step took / what the plan expected (history of earlier runs, else defaults). Red: above the plan\'s upper bound.</p></section>');
}

// ---------------------------------------------------------------------------------------------

function downsample<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  const out: T[] = [];
  const step = (xs.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(xs[Math.round(i * step)]!);
  return out;
}

/** The series a chart draws: the draining node, then those whose sessions changed most. */
function seriesOf(q: Quiesce): { drawn: string[]; hidden: number } {
  const nodes = new Set<string>();
  for (const s of q.samples) for (const k of Object.keys(s.sessions)) nodes.add(k);
  const change = (id: string) => {
    const v = q.samples.map((s) => s.sessions[id]).filter((x): x is number => typeof x === 'number');
    return v.length ? Math.max(...v) - Math.min(...v) : 0;
  };
  const others = [...nodes].filter((n) => n !== q.node).sort((a, b) => change(b) - change(a) || (a < b ? -1 : 1));
  const drawn = [...(nodes.has(q.node) ? [q.node] : []), ...others.slice(0, MAX_SERIES - 1)];
  return { drawn, hidden: nodes.size - drawn.length };
}

/**
 * Sessions the other nodes gained from the last sample before the first DISCONNECT request
 * to the last sample: the clients the cluster re-accepted. Null without a sample after the
 * request (nothing says where the clients went).
 */
export function reaccepted(q: Quiesce): number | null {
  const asked = q.samples.findIndex((s) => s.requested > 0 || s.phase === 'absorb');
  if (asked < 0) return null;
  const a = q.samples[Math.max(0, asked - 1)]!;
  const b = q.samples.at(-1)!;
  if (b === a) return null;
  let sum = 0;
  for (const [id, v] of Object.entries(b.sessions)) if (id !== q.node) sum += Math.max(0, v - (a.sessions[id] ?? 0));
  return sum;
}

function sessions(m: ReportModel, out: string[]): void {
  out.push('<section id="sessions"><h2>Sessions per node while a node drains</h2>');
  const sampled = m.quiesce.filter((q) => q.samples.length);
  const drained = m.nodes.filter((n) => n.bars.some((b) => b.step === 'quiesce'));
  if (!sampled.length) {
    out.push('<p>This log holds no session samples (<code>sessions.sample</code>, written while a node drains and while the cluster re-accepts its clients). What it says of each drain:</p>');
  }
  const charts = sampled.length;
  const perSeries = Math.max(20, Math.min(MAX_POINTS_SERIES, Math.floor(MAX_POINTS_TOTAL / Math.max(1, charts * MAX_SERIES))));
  if (sampled.length) {
    out.push('<div class="legend"><span><i style="background:#c0392b"></i>the draining node</span><span><i style="background:#2f7fd0"></i>other nodes</span><span><i style="background:#eef6f0"></i>absorb: the cluster re-accepts its clients</span><span><i style="border-left:1px dashed #6b7685;width:2px"></i>DISCONNECT requested / pace changed</span></div>');
    out.push('<div class="charts">');
    for (const q of sampled) out.push(chart(q, perSeries));
    out.push('</div>');
  }
  const unsampled = drained.filter((n) => !sampled.some((q) => q.node === n.id));
  if (unsampled.length) {
    if (sampled.length) out.push('<h3>Drains without samples</h3>');
    out.push('<table><thead><tr><th>node</th><th>sessions at drain</th><th>DISCONNECT requested</th><th>pace</th><th>quiesce</th></tr></thead><tbody>');
    for (const n of unsampled) {
      const q = m.quiesce.find((x) => x.node === n.id);
      const req = q?.disconnects.reduce((s, d) => s + d.requested, 0);
      const rate = q?.disconnects.find((d) => d.rate_per_s !== null)?.rate_per_s;
      const qb = n.bars.filter((b) => b.step === 'quiesce').at(-1);
      out.push(`<tr><td>${esc(n.id)}</td><td class="n">${n.sessionsAtDrain ?? '—'}</td><td class="n">${req ?? '—'}</td><td class="n">${rate != null ? `${rate}/s` : '—'}</td><td class="msg">${esc(qb?.summary ?? '')}</td></tr>`);
    }
    out.push('</tbody></table>');
  }
  if (!drained.length && !sampled.length) out.push('<p>No node drained in this log.</p>');
  out.push('</section>');
}

function chart(q: Quiesce, perSeries: number): string {
  const W = 540;
  const H = 190;
  const L = 44;
  const R = 10;
  const T = 10;
  const B = 22;
  const s = q.samples;
  const t0 = s[0]!.t;
  const t1 = Math.max(t0 + 1, s.at(-1)!.t);
  const { drawn, hidden } = seriesOf(q);
  const ymax = Math.max(1, ...s.flatMap((x) => drawn.map((id) => x.sessions[id] ?? 0)));
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v: number) => T + (1 - v / ymax) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<div class="chart" data-draining-node="${esc(q.node)}"><h3>${esc(q.node)} drains · ${esc(formatDuration(t1 - t0))}</h3>`);
  parts.push(`<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="sessions per node while ${esc(q.node)} drains">`);
  // absorb phase shading
  const absorb = s.find((x) => x.phase === 'absorb');
  if (absorb) parts.push(`<rect class="absorb" x="${f1(x(absorb.t))}" y="${T}" width="${f1(x(t1) - x(absorb.t))}" height="${H - T - B}"><title>absorb: the cluster re-accepts ${esc(q.node)}'s clients</title></rect>`);
  parts.push('<g class="axis">');
  for (let i = 0; i <= 4; i++) {
    const v = Math.round((ymax * i) / 4);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${f1(y(v))}" y2="${f1(y(v))}"/><text x="${L - 4}" y="${f1(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  const step = niceStep(t1 - t0, 5);
  for (let t = 0; t <= t1 - t0; t += step) parts.push(`<text x="${f1(x(t0 + t))}" y="${H - 6}" text-anchor="middle">${esc(formatDuration(t))}</text>`);
  parts.push('</g>');
  for (const d of q.disconnects) if (d.t >= t0 && d.t <= t1) parts.push(`<line class="mark" x1="${f1(x(d.t))}" x2="${f1(x(d.t))}" y1="${T}" y2="${H - B}"><title>${esc(`DISCONNECT ${d.requested} (${d.phase ?? 'main'}) at ${d.rate_per_s ?? '?'}/s`)}</title></line>`);
  for (const p of q.paces) if (p.t >= t0 && p.t <= t1) parts.push(`<line class="mark" x1="${f1(x(p.t))}" x2="${f1(x(p.t))}" y1="${T}" y2="${H - B}"><title>${esc(`pace ${p.previous_rate_per_s ?? '?'} → ${p.rate_per_s}/s: ${p.reason}`)}</title></line>`);
  const pts = downsample(s, perSeries);
  drawn.forEach((id, i) => {
    const draining = id === q.node;
    const colour = draining ? '#c0392b' : SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const coords = pts.filter((p) => typeof p.sessions[id] === 'number').map((p) => `${f1(x(p.t))},${f1(y(p.sessions[id]!))}`);
    parts.push(`<polyline class="series${draining ? ' draining' : ''}" data-node="${esc(id)}" stroke="${colour}" points="${coords.join(' ')}"><title>${esc(`${id}${draining ? ' (draining)' : ''}: ${pts[0]!.sessions[id] ?? '—'} → ${pts.at(-1)!.sessions[id] ?? '—'} sessions`)}</title></polyline>`);
  });
  parts.push('</svg>');
  parts.push(`<div class="legend">${drawn.map((id, i) => `<span><i style="background:${id === q.node ? '#c0392b' : SERIES_COLOURS[i % SERIES_COLOURS.length]}"></i>${esc(id)}</span>`).join('')}${hidden ? `<span>+${hidden} node(s) with the smallest change not drawn</span>` : ''}</div>`);
  parts.push(sessionFacts(q));
  parts.push('</div>');
  return parts.join('');
}

function sessionFacts(q: Quiesce): string {
  const last: Sample = q.samples.at(-1)!;
  const rates = [...new Set([...q.disconnects.map((d) => d.rate_per_s), ...q.paces.map((p) => p.rate_per_s), ...q.samples.map((x) => x.rate_per_s)].filter((r): r is number => r !== null))];
  const rows: Array<[string, string]> = [
    ['requested pace', rates.length ? rates.map((r) => `${r}/s`).join(' → ') : '—'],
    ['disconnected', `${last.disconnected} of ${last.requested} requested`],
    ['re-accepted while sampled', reaccepted(q)?.toString() ?? '— (no sample after the DISCONNECT)'],
  ];
  for (const p of q.paces) rows.push(['pace changed', `${p.previous_rate_per_s ?? '?'} → ${p.rate_per_s}/s: ${p.reason}`]);
  if (q.cohort) rows.push(['cohort check', `${q.cohort.returned} of ${q.cohort.size} back${q.cohort.bound_ms !== null ? ` within ${formatDuration(q.cohort.bound_ms)}` : ''}: ${q.cohort.ok ? 'ok' : 'FAILED'}`]);
  return `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd${k === 'cohort check' && q.cohort && !q.cohort.ok ? ' class="bad"' : ''}>${esc(v)}</dd>`).join('')}</dl>`;
}

// ---------------------------------------------------------------------------------------------

function canary(m: ReportModel, out: string[]): void {
  out.push('<section id="canary"><h2>MQTT canary</h2>');
  if (!m.canary.length) {
    out.push('<p>No canary check in this log (<code>canary</code> not configured).</p></section>');
    return;
  }
  out.push('<table><thead><tr><th>node</th><th>step</th><th>check</th><th>endpoint</th><th>CONNACK</th><th>delivery</th><th>result</th></tr></thead><tbody>');
  for (const c of m.canary) {
    const ms = (v: number | null) => (v === null ? '—' : `${v} ms`);
    out.push(`<tr><td>${esc(c.node)}</td><td>${esc(c.step ?? '—')}</td><td>${esc(c.target.replace('_', ' '))}</td><td>${esc(c.endpoint ?? '—')}</td><td class="n">${ms(c.connect_ms)}</td><td class="n">${ms(c.delivery_ms)}</td><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? 'ok' : 'FAILED'}${c.detail ? ` · ${esc(c.detail)}` : ''}</td></tr>`);
  }
  out.push('</tbody></table></section>');
}

function leadership(m: ReportModel, out: string[]): void {
  out.push('<section id="leadership"><h2>Leadership moved away and back</h2>');
  if (!m.leadership.length) {
    out.push('<p>No leadership moved in this log.</p></section>');
    return;
  }
  out.push('<table><thead><tr><th>node</th><th>moved away</th><th>at</th><th>moved back</th><th>at</th><th>away for</th></tr></thead><tbody>');
  for (const l of m.leadership) {
    const away = l.away ? `${l.away.moved} PRG(s)${l.away.via ? ` (${l.away.via})` : ''}` : '—';
    const back = l.back ? (l.back.enabled ? `${l.back.moved}/${l.back.planned ?? l.back.led_before ?? '?'}${l.back.refused ? `, ${l.back.refused} refused` : ''}${l.back.timed_out ? `, ${l.back.timed_out} timed out` : ''}` : 'off (leader_transfer.restore: false)') : '—';
    const short = l.back && l.back.enabled && l.back.planned !== null && l.back.moved < l.back.planned;
    out.push(
      `<tr><td>${esc(l.node)}</td><td>${esc(away)}</td><td>${l.away ? esc(iso(l.away.t)) : '—'}</td><td class="${short ? 'over' : ''}">${esc(back)}</td><td>${l.back ? esc(iso(l.back.t)) : '—'}</td><td class="n">${l.away && l.back ? esc(formatDuration(l.back.t - l.away.t)) : '—'}</td></tr>`,
    );
  }
  out.push('</tbody></table></section>');
}

function issues(m: ReportModel, out: string[]): void {
  out.push('<section id="issues"><h2>Warnings and failures</h2>');
  if (!m.issues.length) {
    out.push('<p class="ok">None.</p></section>');
    return;
  }
  out.push('<table><thead><tr><th>time</th><th>level</th><th>node</th><th>step</th><th>what happened</th><th>next</th></tr></thead><tbody>');
  for (const i of m.issues) {
    out.push(`<tr><td>${esc(iso(i.t))}</td><td class="${i.level === 'error' ? 'bad' : ''}">${i.level}</td><td>${esc(i.node ?? '—')}</td><td>${esc(i.step ?? '—')}</td><td class="msg">${esc(i.message.slice(0, 2000))}</td><td class="msg">${esc(i.next ?? '—')}</td></tr>`);
  }
  out.push('</tbody></table></section>');
}

