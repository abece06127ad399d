/**
 * The end of a run, for a person (text) or for CI (one JSON document on stdout).
 * With the plan facts (restart, plan) the JSON is the plan document of
 * docs/plan-schema.md, filled in with what happened; without them (drain, undrain,
 * resume) a smaller document with the same `waves`/`nodes`/`checks` keys.
 */
import { writeJsonLine } from './json-out.js';
import type { RollOutcome, RollPlan } from '../run/roll.js';
import { formatDuration } from '../config/duration.js';
import { resultOf } from '../run/pipeline.js';
import type { Executed } from '../run/execute.js';
import { ExitCode } from '../util/errors.js';
import { leaderTransferStep } from '../steps/leader-transfer.js';
import { restartStep } from '../steps/restart.js';
import { precheckStep } from '../steps/precheck.js';
import { drainStep } from '../steps/drain.js';
import { readmitStep } from '../steps/readmit.js';
import type { NodeOutcome } from '../run/pipeline.js';
import { postcheckStep } from '../steps/postcheck.js';
import { planVerdict, renderPlanText } from './plan.js';
import { colorFor, painter } from './style.js';
import { type PlanFacts, planDocument } from '../run/plan/document.js';
import type { RunLog } from '../util/log.js';

export interface RenderOptions {
  json: boolean;
  dryRun: boolean;
  verbose: boolean;
  plan: RollPlan;
  journal?: string;
  /** what the plan was made from (restart and plan commands) */
  facts?: PlanFacts;
  /** wall time of the run, for the closing line */
  elapsedMs?: number;
  /** nodes a resumed run found already done */
  done?: readonly string[];
  /** the run's log file (invariant 11): named in the outcome, and the outcome recorded in it */
  runLog?: RunLog;
}

/** What the MQTT canary saw of one node (issue 12), or null when it made no check. */
export function canaryReport(n: NodeOutcome): Record<string, unknown> | null {
  const fd = resultOf(precheckStep, n.steps)?.canary;
  const drain = resultOf(drainStep, n.steps)?.canary;
  const back = resultOf(readmitStep, n.steps)?.canary;
  const failure = n.error?.details.evidence?.canary ?? null;
  if (!fd && !drain && !back && !failure) return null;
  return {
    node: n.node,
    direct_ms: null,
    front_door_ms: null,
    ...back,
    ...(fd ? { precheck_front_door_ms: fd.total_ms, precheck_front_door_connect_ms: fd.connect_ms, precheck_front_door_delivery_ms: fd.delivery_ms } : {}),
    drain_enforced: drain ? drain.enforced : null,
    ...(drain ? { drain_detail: drain.detail } : {}),
    failure,
  };
}

/** The canary's figures in a document: per node (`nodes.<id>.canary`) and as one list (`canary`). */
function withCanary(doc: Record<string, unknown>, o: RollOutcome): Record<string, unknown> {
  const reports = o.nodes.map(canaryReport).filter((c): c is Record<string, unknown> => c !== null);
  if (reports.length === 0) return doc;
  const nodes = doc.nodes as Record<string, Record<string, unknown>> | undefined;
  for (const c of reports) if (nodes?.[c.node as string]) nodes[c.node as string]!.canary = c;
  return { ...doc, canary: reports };
}

export function outcomeDocument(o: RollOutcome, r: RenderOptions): Record<string, unknown> {
  const log_file = r.runLog?.file ?? null;
  if (r.facts) return { ...withCanary(planDocument(r.facts, o, { dryRun: r.dryRun, journal: r.journal, done: r.done }) as unknown as Record<string, unknown>, o), log_file };
  const nodes = Object.fromEntries(
    o.nodes.map((n) => {
      const target = r.plan.nodes.find((t) => t.id === n.node);
      return [
        n.node,
        {
          wave: o.waves.findIndex((w) => w.includes(n.node)) + 1,
          status: n.status,
          rack: target?.rack ?? null,
          lb_member: target?.lbMember ?? null,
          prgs_led: resultOf(leaderTransferStep, n.steps)?.prgs ?? [],
          restart_argv: resultOf(restartStep, n.steps)?.argv ?? null,
          steps: n.steps.map((s) => ({ step: s.step, outcome: s.outcome, duration_ms: s.duration_ms, summary: s.summary, ...(s.actions ? { actions: s.actions } : {}) })),
          warnings: n.warnings,
          error: n.error?.message ?? null,
        },
      ];
    }),
  );
  return withCanary({
    ok: o.exitCode === 0,
    exit_code: o.exitCode,
    run_id: o.runId,
    dry_run: r.dryRun,
    status: o.status,
    waves: o.waves.map((w, i) => ({ index: i + 1, nodes: w })),
    nodes,
    checks: o.nodes.flatMap((n) =>
      n.steps.filter((s) => s.step === 'precheck').map((s) => ({ id: 'precheck', scope: 'node', node: n.node, status: s.outcome === 'done' ? 'pass' : s.outcome === 'failed' ? 'fail' : 'skip', summary: s.summary })),
    ),
    journal: r.journal ?? null,
    log_file,
    ...(o.error ? { error: { message: o.error.message, kind: o.error.name, ...o.error.details } } : {}),
  }, o);
}


export function renderOutcome(o: RollOutcome, r: RenderOptions): void {
  if (r.json || r.runLog) {
    const doc = outcomeDocument(o, r);
    // The run log's last event: the outcome, as --json prints it.
    r.runLog?.outcome(doc);
    if (r.json) {
      writeJsonLine((text) => process.stdout.write(text), doc);
      return;
    }
  }
  if (r.dryRun && r.facts) {
    const doc = planDocument(r.facts, o, { dryRun: true });
    const color = colorFor(process.stdout);
    process.stdout.write(`${renderPlanText(doc, { verbose: r.verbose, color, withChecks: true, width: process.stdout.isTTY ? process.stdout.columns : undefined })}\n\n${planVerdict(doc, color)}\n`);
    return;
  }
  const stream = o.exitCode === 0 || r.dryRun ? process.stdout : process.stderr;
  const color = colorFor(stream);
  const p = painter(color);
  const out: string[] = [];
  const byNode = new Map(o.nodes.map((n) => [n.node, n]));
  const many = o.waves.length > 1;
  // After a live view on a terminal, one line per wave; the step by step detail with --verbose (and in logs and CI).
  const compact = !r.verbose && !r.dryRun && stream.isTTY === true && process.stderr.isTTY === true;
  if (compact) {
    o.waves.forEach((w, i) => {
      const cells = w.map((id) => {
        const n = byNode.get(id);
        if (!n) return p.dim(`${id} not started`);
        const ms = n.steps.reduce((t, s) => t + s.duration_ms, 0);
        if (n.status === 'done') return `${id} ${p.green('✓')} ${formatDuration(ms)}`;
        if (n.status === 'skipped') return `${id} ${p.yellow('– skipped')}`;
        const at = n.steps.find((s) => s.outcome === 'failed')?.step;
        return `${id} ${p.red(`✗ ${n.status}${at ? ` at ${at}` : ''}`)}`;
      });
      out.push(`${p.bold(many ? `wave ${i + 1}/${o.waves.length}` : 'nodes')}  ${cells.join(' · ')}`);
      for (const id of w) for (const wn of byNode.get(id)?.warnings ?? []) out.push(`  ${p.yellow(`warning ${id}: ${wn}`)}`);
    });
  }
  if (!compact) o.waves.forEach((w, i) => {
    const ran = w.filter((id) => byNode.has(id));
    if (ran.length === 0) {
      if (many) out.push(p.dim(`wave ${i + 1}/${o.waves.length} (${w.join(', ')}): not started`));
      return;
    }
    if (many) out.push(p.bold(`wave ${i + 1}/${o.waves.length} (${w.join(', ')})`));
    for (const id of ran) {
      const n = byNode.get(id)!;
      const total = n.steps.reduce((t, s) => t + s.duration_ms, 0);
      const verb = r.dryRun ? 'planned' : n.status === 'done' ? `done in ${formatDuration(total)}` : n.status === 'skipped' ? 'skipped' : `${n.status} after ${formatDuration(total)}`;
      const colour = n.status === 'done' ? p.green : n.status === 'skipped' ? p.yellow : p.red;
      out.push(`${many ? '  ' : ''}${p.bold(n.node)}: ${colour(verb)}`);
      for (const s of n.steps) {
        const mark = s.outcome === 'done' ? p.green('✓') : s.outcome === 'skipped' ? p.yellow('–') : p.red('✗');
        out.push(`${many ? '  ' : ''}  ${mark} ${s.step.padEnd(16)} ${formatDuration(s.duration_ms).padStart(6)}  ${s.summary.split('\n')[0]}`);
      }
      for (const wn of n.warnings) out.push(`${many ? '  ' : ''}  ${p.yellow(`warning: ${wn}`)}`);
    }
  });
  if (o.error) {
    out.push('');
    const what = o.status === 'refused' ? 'refused' : o.status === 'interrupted' ? 'interrupted' : 'failed';
    out.push(p.red(`${what} (exit ${o.exitCode}): ${o.error.message}`));
    if (o.error.details.next) out.push(`  next: ${o.error.details.next}`);
    if (r.journal && !r.dryRun) out.push(`  journal: ${r.journal}`);
    if (r.runLog) out.push(`  log: ${r.runLog.file}`);
  } else if (!r.dryRun) {
    const done = o.nodes.filter((n) => n.status === 'done');
    const skipped = o.nodes.filter((n) => n.status === 'skipped');
    const verb = r.plan.command === 'restart' ? 'restarted' : r.plan.command === 'drain' ? 'drained and out of the LB' : r.plan.command === 'undrain' ? 'back in service' : 'done';
    const took = r.elapsedMs !== undefined ? ` in ${formatDuration(r.elapsedMs)}` : '';
    out.push('');
    out.push(p.green(`done: ${done.length} node(s) ${verb}${many ? ` in ${o.waves.length} waves` : ''}${took} (run ${o.runId})`));
    const back = o.nodes.map((n) => resultOf(postcheckStep, n.steps)?.leaders_restored).filter((x) => x && x.planned > 0);
    if (back.length) out.push(`  leadership moved back: ${back.reduce((t, x) => t + x!.moved, 0)} of ${back.reduce((t, x) => t + x!.planned, 0)} PRG(s)`);
    for (const n of skipped) {
      const why = n.steps.find((s) => s.outcome === 'skipped')?.summary ?? 'skipped';
      out.push(p.yellow(`  skipped ${n.node}: ${why.replace(/^skipped: /, '')}`));
    }
    if (r.runLog) out.push(p.dim(`  log: ${r.runLog.file}`));
  }
  stream.write(`${out.join('\n')}\n`);
}

/** Renders what run/execute.ts returns; the command's exit code. */
export function renderExecuted(x: Executed, o: { json?: boolean; dryRun?: boolean; verbose?: boolean }): number {
  renderOutcome(x.outcome, {
    json: o.json === true,
    dryRun: o.dryRun === true,
    verbose: o.verbose === true,
    plan: x.plan,
    journal: x.journal,
    facts: x.facts,
    elapsedMs: x.elapsedMs,
    done: x.done,
    runLog: x.runLog,
  });
  return x.outcome.exitCode === 0 ? ExitCode.ok : x.outcome.exitCode;
}
