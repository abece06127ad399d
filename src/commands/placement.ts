/** `placement check`: the placement hygiene audit of the seed. Exit 3 when any PRG violates the policy. */
import { ExitCode } from '../errors.js';
import { placementViolations } from '../placement.js';
import { type GlobalOptions, openSession } from './session.js';

export async function placementCheckAction(opts: GlobalOptions): Promise<number> {
  const s = await openSession(opts);
  try {
    const [state, prgs] = await Promise.all([s.cp.clusterState(), s.cp.listPrgs()]);
    const all = placementViolations(prgs, state.nodes, state.placement.policy);
    const violations = all.filter((v) => v.kind !== 'unknown_node');
    const unknown = all.filter((v) => v.kind === 'unknown_node');
    const code = violations.length ? ExitCode.refused : ExitCode.ok;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ok: code === 0, exit_code: code, policy: state.placement.policy, prgs_checked: prgs.length, cp_reported_violations: state.placement.violations, violations, unknown_nodes: unknown })}\n`,
      );
      return code;
    }
    const lines = [`placement policy ${state.placement.policy}: ${prgs.length} PRGs checked, ${violations.length} violation(s)`];
    for (const v of violations) {
      lines.push(`  ${v.prg}: ${v.replicas} replicas on ${v.kind === 'same_node' ? 'node' : 'rack'} ${v.where} (${v.nodes.join(', ')})`);
    }
    for (const v of unknown) lines.push(`  note: ${v.prg} has a replica on ${v.nodes.join(', ')}, unknown to the cluster state`);
    if (state.placement.violations !== violations.length) {
      lines.push(`  note: the CP reports ${state.placement.violations} violation(s)`);
    }
    (code ? process.stderr : process.stdout).write(`${lines.join('\n')}\n`);
    return code;
  } finally {
    await s.close();
  }
}
