/**
 * The plan for a person, drawn from the plan document (run/plan/document.ts), so the
 * table and the JSON never disagree. Text only: nothing here decides anything.
 */
import type { CheckStatus, PlanDocument } from '../run/plan/types.js';
import { displayArgv } from '../util/run-argv.js';
import { formatDuration } from '../config/duration.js';
import { painter } from './style.js';
import { table, visibleWidth } from './table.js';

export interface TextOptions {
  verbose: boolean;
  color: boolean;
  /** `plan`: the cluster and wave checks only (the confirmation view: no precheck has run yet) */
  withChecks: boolean | 'plan';
  /** terminal width: a node table wider than this puts each restart argv on a line of its own */
  width?: number;
}

const MARK: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '–', not_run: '·' };

function wrapList(items: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const it of items) {
    if (cur && indent.length + cur.length + it.length + 2 > width) {
      lines.push(`${indent}${cur},`);
      cur = '';
    }
    cur = cur ? `${cur}, ${it}` : it;
  }
  if (cur) lines.push(`${indent}${cur}`);
  return lines;
}

function basisText(d: PlanDocument): string {
  const h = d.eta.history;
  if (d.eta.basis === 'history') return `observed over ${h.node_restarts} node restart(s) in ${h.runs} earlier run(s)`;
  const defaults = d.eta.steps.filter((s) => s.source === 'default').map((s) => `${s.step} ${formatDuration(s.expected_ms)}`);
  if (d.eta.basis === 'defaults') return `no earlier run to learn from yet: quiesce is the grace, ${defaults.join(', ')} are defaults`;
  return `partly observed (${h.node_restarts} node restart(s)); defaults for ${defaults.join(', ')}`;
}

/** The plan for a person: per wave a table, the waits, the ETA and the evidence. */
export function renderPlanText(d: PlanDocument, o: TextOptions): string {
  const p = painter(o.color);
  const out: string[] = [];
  const n = Object.keys(d.nodes).length;
  const par = d.options.parallel === 1 ? 'one node at a time' : d.options.parallel === 'auto' ? '--parallel auto' : `--parallel ${d.options.parallel}`;
  out.push(
    p.bold(`Plan: restart ${n} node${n === 1 ? '' : 's'} in ${d.waves.length} wave${d.waves.length === 1 ? '' : 's'} (${par}${d.options.pause_ms ? `, ${formatDuration(d.options.pause_ms)} pause between waves` : ''})`) +
      (d.dry_run ? p.dim(' — dry run, nothing changed') : ''),
  );
  const c = d.cluster;
  const lease = c.lease === null ? 'lease free' : 'error' in c.lease ? 'lease unknown' : `lease held by ${c.lease.holder}`;
  out.push(
    p.dim(
      `cluster: CP leader ${c.cp.leader ?? 'none'} (term ${c.cp.term}, ${c.cp.healthy ? 'healthy' : 'UNHEALTHY'}) · ${c.prgs.ready}/${c.prgs.total} PRGs ready · ${c.placement.policy}, ${c.placement.violations} violation(s) · ${lease} · LB ${c.lb.adapter}`,
    ),
  );
  for (const w of d.waves) {
    out.push('');
    const head = `Wave ${w.index}/${d.waves.length}  ${w.nodes.join(', ')}`;
    const racks = w.racks.length === 1 ? `rack ${w.racks[0]}` : `racks ${w.racks.join(', ')}`;
    const q = w.quorum.ok ? p.green(`quorum ok (${w.quorum.prgs_checked} PRGs)`) : p.red(`UNSAFE: ${w.quorum.blockers.length} PRG(s) would lose quorum`);
    out.push(`${p.bold(head)}  ${p.dim(racks)}  ${q}  ${p.dim(`≈ ${formatDuration(w.expected_ms)}, ≤ ${formatDuration(w.max_ms)}`)}`);
    const rows = w.nodes.map((id) => {
      const x = d.nodes[id]!;
      const status = x.status === 'planned' || x.status === 'pending' ? '' : x.status === 'done' ? p.green('done') : x.status === 'skipped' || x.status === 'not_checked' ? p.yellow(x.status) : p.red(x.status);
      return [
        id,
        x.rack,
        String(x.prgs_led_count) + (x.hosts_cp_leader ? ' +CP' : ''),
        String(x.prgs_hosted),
        x.sessions === null ? '?' : String(x.sessions),
        c.lb.adapter === 'none' ? '(readyz)' : `${x.lb_member}: drain → enable`,
        x.restart_argv ? displayArgv(x.restart_argv) : p.red('invalid'),
        status,
      ];
    });
    const header = ['NODE', 'RACK', 'LEADS', 'HOSTS', 'SESSIONS', `LB (${c.lb.adapter})`, 'RESTART', ''];
    let lines = table(header, rows, '  ');
    // Too wide for the terminal: the restart argv goes on its own line under each node.
    const argvBelow = lines.some((l) => visibleWidth(l) > (o.width ?? Infinity));
    if (argvBelow) lines = table([...header.slice(0, 6), ''], rows.map((r) => [...r.slice(0, 6), r[7] ?? '']), '  ');
    out.push(p.dim(lines[0] ?? ''));
    w.nodes.forEach((id, i) => {
      out.push(lines[i + 1] ?? '');
      const x = d.nodes[id]!;
      if (argvBelow) out.push(`${' '.repeat(10)}${p.dim('$')} ${x.restart_argv ? displayArgv(x.restart_argv) : p.red('invalid restart.command for this node')}`);
      if (o.verbose && x.prgs_led.length) out.push(...wrapList(x.prgs_led, 120, '      leads: ').map((l, k) => (k === 0 ? p.dim(l) : p.dim(l.replace('leads: ', '       ')))));
      if (x.error && x.status !== 'done') out.push(`      ${p.red(x.error.split('\n')[0] ?? '')}`);
      for (const wn of x.warnings) out.push(`      ${p.yellow(`warning: ${wn}`)}`);
    });
  }
  out.push('');
  out.push(p.bold('Each node waits for'));
  const waitRows = d.eta.steps.map((s) => [s.step, `≈ ${formatDuration(s.expected_ms)}`, `≤ ${formatDuration(s.max_ms)}`, s.source === 'history' ? `observed (${s.samples})` : s.source, s.waits_for]);
  out.push(...table(['STEP', 'EXPECTED', 'AT MOST', 'FROM', 'WAITS FOR'], waitRows, '  ').map((l, i) => (i === 0 ? p.dim(l) : l)));
  out.push('');
  out.push(
    `${p.bold('ETA')} ≈ ${formatDuration(d.eta.expected_ms)} for ${d.waves.length} wave(s)${d.eta.pause_ms ? ` including ${formatDuration(d.eta.pause_ms * Math.max(0, d.waves.length - 1))} of pauses` : ''}; at most ${formatDuration(d.eta.max_ms)} if every wait runs to its timeout.`,
  );
  out.push(p.dim(`  (${basisText(d)})`));
  if (o.withChecks) {
    out.push('');
    out.push(`${p.bold('Checks')} ${p.dim('on the current state; before each wave the plan is validated again and every node prechecked on fresh state')}`);
    for (const ch of d.checks) {
      if (o.withChecks === 'plan' && ch.scope === 'node') continue;
      const mark = ch.status === 'pass' ? p.green(MARK.pass) : ch.status === 'fail' ? p.red(MARK.fail) : ch.status === 'warn' ? p.yellow(MARK.warn) : p.dim(MARK[ch.status]);
      const who = ch.scope === 'node' ? `${ch.node}: ` : '';
      const [first, ...rest] = ch.summary.split('\n');
      out.push(`  ${mark} ${who}${first}`);
      for (const l of rest.slice(0, o.verbose ? undefined : 12)) out.push(`      ${l}`);
      if (!o.verbose && rest.length > 12) out.push(p.dim(`      … ${rest.length - 12} more line(s) (--verbose or --json)`));
    }
  }
  return out.join('\n');
}

/** The closing lines of a plan: the verdict and how to run it. */
export function planVerdict(d: PlanDocument, color: boolean): string {
  const p = painter(color);
  if (d.ok) return `${p.green('Plan OK.')} Run it: ${p.bold(d.run_command)}${p.dim('  (asks for confirmation; --yes in scripts)')}`;
  const msg = d.error?.message ?? 'the plan is not safe';
  const next = typeof d.error?.next === 'string' ? `\n  next: ${d.error.next}` : '';
  return `${p.red(`Plan refused (exit ${d.exit_code}):`)} ${msg}${next}`;
}
