// The report's model of a run log (render/report/model.ts) and what its renderers make of
// the shapes a real run cannot easily be made to produce here: a drain with a pace change
// and a cohort check (the spec's events), a cluster too big to draw every series, a gantt
// too big for GitHub, secrets in a hand-edited log, and lines out of order.
import { describe, expect, it } from 'vitest';
import { buildModel, scrub } from '../../src/render/report/model.js';
import { MAX_SERIES, renderHtml } from '../../src/render/report/html.js';
import { MERMAID_MAX_CHARS, gantt, renderMarkdown } from '../../src/render/report/md.js';
import { renderText } from '../../src/render/report/text.js';
import { painter } from '../../src/render/style.js';

const T0 = Date.parse('2026-12-07T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const ev = (ms: number, event: string, fields: Record<string, unknown> = {}, level = 'info') => JSON.stringify({ level, time: at(ms), pid: 1, run_id: 'r1', event, ...fields, msg: event });
const STEPS = ['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck'];

/** A log of `nodes` nodes rolled one wave each, every step 100 ms, optionally cut after `cutAfter` lines. */
function rollLog(nodes: string[], extra: (node: string, t: number) => string[] = () => []): string {
  const lines = [ev(0, 'run.log', { argv: ['restart', '--all'], config_file: '/etc/qr.yaml' })];
  lines.push(ev(1, 'run.plan', { initiator: 'ops@host', waves: nodes.map((n) => [n]), eta: { basis: 'defaults', node_expected_ms: 700, node_max_ms: 7000, steps: Object.fromEntries(STEPS.map((s) => [s, { expected_ms: 100, max_ms: 1000 }])) } }));
  let t = 10;
  nodes.forEach((n, i) => {
    lines.push(ev(t, 'wave.start', { wave: i + 1, nodes: [n] }));
    for (const s of STEPS) {
      lines.push(ev(t, 'step.start', { node: n, step: s, wave: i + 1 }));
      if (s === 'quiesce') lines.push(...extra(n, t));
      t += 100;
      lines.push(ev(t, 'step.done', { node: n, step: s, wave: i + 1, duration_ms: 100, summary: `${s} ok` }));
    }
    lines.push(ev(t, 'node.done', { node: n, wave: i + 1, status: 'done' }));
  });
  lines.push(ev(t + 1, 'run.end', { outcome: { status: 'done', exit_code: 0, run_command: 'quantum-roll restart --all' } }));
  return `${lines.join('\n')}\n`;
}

describe('report model', () => {
  it('a drain with samples out of order, a pace change and a failed cohort check: drawn in order, with pace, counts and the verdict', () => {
    const text = rollLog(['node-1', 'node-2', 'node-3'], (n, t) =>
      n !== 'node-2'
        ? []
        : [
            // written out of order on purpose: the chart is in time order
            ev(t + 60, 'sessions.sample', { node: n, phase: 'absorb', sessions: { 'node-1': 70, 'node-2': 0, 'node-3': 50 }, disconnected: 40, requested: 40, rate_per_s: 100 }),
            ev(t + 10, 'sessions.sample', { node: n, phase: 'quiesce', sessions: { 'node-1': 50, 'node-2': 40, 'node-3': 30 }, disconnected: 0, requested: 0, rate_per_s: null }),
            ev(t + 20, 'quiesce.disconnect', { node: n, phase: 'cohort', requested: 4, rate_per_s: 200, limit: 4, reason_code: 156, intent: 'planned' }),
            ev(t + 30, 'quiesce.cohort', { node: n, size: 4, returned: 3, ok: false, bound_ms: 5000 }),
            ev(t + 35, 'quiesce.pace', { node: n, rate_per_s: 100, previous_rate_per_s: 200, reason: 'node-1 accepts slower than asked' }),
            ev(t + 40, 'quiesce.disconnect', { node: n, phase: 'main', requested: 36, rate_per_s: 100, limit: null, reason_code: 156, intent: 'planned' }),
            ev(t + 50, 'sessions.sample', { node: n, phase: 'quiesce', sessions: { 'node-1': 60, 'node-2': 20, 'node-3': 40 }, disconnected: 20, requested: 40, rate_per_s: 100 }),
          ],
    );
    const m = buildModel(text, 'r1.ndjson');
    expect(m.status).toBe('done');
    expect(m.initiator).toBe('ops@host');
    const q = m.quiesce.find((x) => x.node === 'node-2')!;
    expect(q.samples.map((s) => s.t - q.samples[0]!.t)).toEqual([0, 40, 50]);
    const html = renderHtml(m);
    expect(html).toMatch(/<polyline class="series draining" data-node="node-2"[^>]*points="([\d.]+,[\d.]+ ){2}[\d.]+,[\d.]+"/);
    expect(html).toContain('200/s → 100/s');
    expect(html).toContain('200 → 100/s: node-1 accepts slower than asked');
    expect(html).toContain('40 of 40 requested');
    expect(html).toContain('re-accepted while sampled</dt><dd>40</dd>'); // re-accepted: node-1 +20, node-3 +20 since the last sample before the request
    expect(html).toMatch(/cohort check<\/dt><dd class="bad">3 of 4 back within 5s: FAILED/);
    expect(renderMarkdown(m)).toContain('| node-2 | 200/s → 100/s | 40 / 40 | 3/4 **failed** |');
    expect(renderText(m, painter(false))).toContain('node-2 drained: 40 of 40 disconnected at 100/s; cohort 3/4 FAILED');
  });

  it('a log cut mid-run: the step it was in never finished, the run is unfinished, resume is next', () => {
    const full = rollLog(['node-1', 'node-2']).split('\n');
    const cut = full.findIndex((l) => l.includes('"node-2"') && l.includes('"step":"restart"') && l.includes('step.start'));
    const m = buildModel(`${full.slice(0, cut + 1).join('\n')}\n`, 'r1.ndjson');
    expect(m.status).toBe('unfinished');
    expect(m.exit_code).toBeNull();
    expect(m.next).toBe('quantum-roll resume');
    const n2 = m.nodes.find((n) => n.id === 'node-2')!;
    expect(n2.bars.map((b) => `${b.step}:${b.outcome}`)).toEqual(['precheck:done', 'leader-transfer:done', 'drain:done', 'quiesce:done', 'restart:unfinished']);
    expect(renderHtml(m)).toContain('data-node="node-2" data-step="restart" data-outcome="unfinished"');
  });

  it(`a big cluster: at most ${MAX_SERIES} series per chart (the draining node first), the rest counted`, () => {
    const sessions = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`n${i}`, i]));
    const text = rollLog(['n0'], (n, t) => [0, 25, 50].map((d) => ev(t + d, 'sessions.sample', { node: n, phase: 'quiesce', sessions, disconnected: 0, requested: 0, rate_per_s: null })));
    const html = renderHtml(buildModel(text, 'r1.ndjson'));
    expect([...html.matchAll(/<polyline /g)].length).toBe(MAX_SERIES);
    expect(html).toContain('<polyline class="series draining" data-node="n0"');
    expect(html).toContain(`+${40 - MAX_SERIES} node(s) with the smallest change not drawn`);
  });

  it("a gantt too big for GitHub's mermaid limit: one task per node instead, and the markdown says so", () => {
    const nodes = Array.from({ length: 400 }, (_, i) => `node-${i + 1}`);
    const m = buildModel(rollLog(nodes), 'r1.ndjson');
    const g = gantt(m);
    expect(g.grain).toBe('node');
    expect(g.text.length).toBeLessThanOrEqual(MERMAID_MAX_CHARS);
    expect(g.text.split('\n').filter((l) => l.startsWith('    ')).length).toBe(400);
    expect(renderMarkdown(m)).toContain('One task per node: one per node step would pass GitHub');
  });

  it('secrets in a hand-edited log: secret-named fields and secret-looking strings are scrubbed', () => {
    expect(scrub('curl -H "Authorization: Bearer abcdef123456" https://u:p4ss@h/x token=zzzzzzzz password: hunter22')).toBe(
      'curl -H "Authorization: [redacted] [redacted]" https://[redacted]@h/x token=[redacted] password: [redacted]',
    );
    const text = rollLog(['node-1']).replace('"summary":"restart ok"', '"summary":"restart ok with ghp_abcdefghijklmnopqrstuvwxyz0123"');
    const out = [renderHtml(buildModel(text, 'x')), renderMarkdown(buildModel(text, 'x'))].join('');
    expect(out).not.toContain('ghp_abcdefghijklmnopqrstuvwxyz0123');
  });
});
