/**
 * `placement check`: the placement hygiene audit of the seed. Every PRG with two
 * replicas on one node, or (under `one_replica_per_rack`) on one rack, with the nodes
 * and racks involved. Exit 3 when any, 0 when clean. Read only.
 */
import { ExitCode } from '../util/errors.js';
import { placementAudit } from '../cluster/verdicts.js';
import { compareIds } from '../cluster/quorum.js';
import { colorFor, painter } from '../render/style.js';
import { table } from '../render/table.js';
import { type GlobalOptions, openSession } from './session.js';

export async function placementCheckAction(opts: GlobalOptions): Promise<number> {
  const s = await openSession(opts);
  try {
    const [state, prgs] = await Promise.all([s.cp.clusterState(), s.cp.listPrgs()]);
    const rackOf = new Map(state.nodes.map((n) => [n.id, n.rack]));
    const { hard: violations, unknownNodes: unknown } = placementAudit(prgs, state.nodes, state.placement.policy);
    const code = violations.length ? ExitCode.refused : ExitCode.ok;
    const nodesInvolved = [...new Set(violations.flatMap((v) => v.nodes))].sort(compareIds);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({
          ok: code === 0,
          exit_code: code,
          policy: state.placement.policy,
          prgs_checked: prgs.length,
          cp_reported_violations: state.placement.violations,
          violations: violations.map((v) => ({ ...v, racks: [...new Set(v.nodes.map((n) => rackOf.get(n) ?? null))] })),
          nodes_involved: nodesInvolved,
          unknown_nodes: unknown,
          ...(code ? { error: { message: `${violations.length} placement violation(s) under ${state.placement.policy}` } } : {}),
        })}\n`,
      );
      return code;
    }
    const color = colorFor(process.stdout);
    const { red, green, dim, bold } = painter(color);
    const lines = [
      `${bold('placement')} ${state.placement.policy}: ${prgs.length} PRGs checked, ${violations.length ? red(`${violations.length} violation(s)`) : green('no violation')}`,
    ];
    if (violations.length) {
      const rows = violations.map((v) => [
        v.prg,
        v.kind === 'same_node' ? 'same node' : 'same rack',
        v.kind === 'same_node' ? `node ${v.where}` : `rack ${v.where}`,
        v.nodes.map((n) => `${n} (${rackOf.get(n) ?? '?'})`).join(', '),
        String(v.replicas),
      ]);
      lines.push('', ...table(['PRG', 'KIND', 'WHERE', 'NODES (RACK)', 'REPLICAS'], rows, '  ').map((l, i) => (i === 0 ? dim(l) : l)));
      lines.push('');
      if (violations.some((v) => v.kind === 'same_rack')) {
        lines.push('A rack failure takes several voters of each same-rack PRG down at once; restart --parallel auto keeps those nodes in separate waves.');
      }
      if (violations.some((v) => v.kind === 'same_node')) {
        lines.push('Restarting a node holding two voters of one PRG takes both down at once; the precheck refuses it while that would break quorum.');
      }
      lines.push(`Fix the placement in the control plane (nodes involved: ${nodesInvolved.join(', ')}).`);
    }
    for (const v of unknown) lines.push(dim(`  note: ${v.prg} has a replica on ${v.nodes.join(', ')}, a node the cluster state does not list (rack unknown)`));
    if (state.placement.violations !== violations.length) {
      lines.push(dim(`  note: the CP itself reports ${state.placement.violations} violation(s)`));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return code;
  } finally {
    await s.close();
  }
}
