/** The end of a run, for a person (stderr/stdout text) or for CI (one JSON document). */
import type { RollOutcome, RollPlan } from '../roll.js';
import { formatDuration } from '../config/duration.js';

export interface RenderOptions {
  json: boolean;
  dryRun: boolean;
  verbose: boolean;
  plan: RollPlan;
  journal?: string;
}

export function outcomeDocument(o: RollOutcome, r: RenderOptions): Record<string, unknown> {
  const nodes = Object.fromEntries(
    o.nodes.map((n) => {
      const target = r.plan.nodes.find((t) => t.id === n.node);
      const transfer = n.steps.find((s) => s.step === 'leader-transfer');
      const restart = n.steps.find((s) => s.step === 'restart');
      return [
        n.node,
        {
          status: n.status,
          rack: target?.rack ?? null,
          lb_member: target?.lbMember ?? null,
          prgs_led: (transfer?.data?.prgs as string[] | undefined) ?? [],
          restart_argv: restart?.data?.argv ?? null,
          steps: n.steps.map((s) => ({ step: s.step, outcome: s.outcome, duration_ms: s.duration_ms, summary: s.summary, ...(s.actions ? { actions: s.actions } : {}) })),
          warnings: n.warnings,
          error: n.error?.message ?? null,
        },
      ];
    }),
  );
  return {
    ok: o.exitCode === 0,
    exit_code: o.exitCode,
    run_id: o.runId,
    dry_run: r.dryRun,
    status: o.status,
    waves: o.waves.map((w, i) => ({ index: i + 1, nodes: w })),
    nodes,
    checks: o.nodes.flatMap((n) => n.steps.filter((s) => s.step === 'precheck').map((s) => ({ node: n.node, outcome: s.outcome, summary: s.summary }))),
    journal: r.journal ?? null,
    ...(o.error ? { error: { message: o.error.message, kind: o.error.name, ...o.error.details } } : {}),
  };
}

export function renderOutcome(o: RollOutcome, r: RenderOptions): void {
  if (r.json) {
    process.stdout.write(`${JSON.stringify(outcomeDocument(o, r))}\n`);
    return;
  }
  const out: string[] = [];
  if (r.dryRun) {
    out.push(`Plan (dry run, nothing changed): ${o.waves.length} wave(s)`);
    o.waves.forEach((w, i) => {
      out.push(`wave ${i + 1}: ${w.join(', ')}`);
      for (const id of w) {
        const n = o.nodes.find((x) => x.node === id);
        if (!n) continue;
        out.push(`  ${id}`);
        for (const s of n.steps) {
          out.push(`    ${s.outcome === 'failed' ? '✗' : '·'} ${s.step}: ${s.summary}`);
          if (s.step === 'leader-transfer') for (const a of s.actions ?? []) out.push(`        ${r.verbose || a.length < 400 ? a : `${a.slice(0, 400)}… (--verbose or --json for all)`}`);
        }
      }
    });
  } else {
    for (const n of o.nodes) {
      const total = n.steps.reduce((t, s) => t + s.duration_ms, 0);
      out.push(`${n.node}: ${n.status} in ${formatDuration(total)}`);
      for (const s of n.steps) out.push(`  ${s.outcome === 'done' ? '✓' : s.outcome === 'skipped' ? '–' : '✗'} ${s.step.padEnd(16)} ${formatDuration(s.duration_ms).padStart(6)}  ${s.summary.split('\n')[0]}`);
      for (const w of n.warnings) out.push(`  warning: ${w}`);
    }
  }
  if (o.error) {
    out.push('');
    out.push(`${o.status === 'refused' ? 'refused' : o.status === 'interrupted' ? 'interrupted' : 'failed'} (exit ${o.exitCode}): ${o.error.message}`);
    if (o.error.details.next) out.push(`  next: ${o.error.details.next}`);
    if (r.journal && !r.dryRun) out.push(`  journal: ${r.journal}`);
  } else if (!r.dryRun) {
    out.push(`done: ${o.nodes.filter((n) => n.status === 'done').length} node(s) restarted (run ${o.runId})`);
  }
  (o.exitCode === 0 || r.dryRun ? process.stdout : process.stderr).write(`${out.join('\n')}\n`);
}
