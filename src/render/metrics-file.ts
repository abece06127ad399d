/**
 * `--metrics-file`: Prometheus text (format 0.0.4) for node_exporter's textfile
 * collector, rewritten atomically (temp file in the same directory, fsync, rename) at
 * every step boundary, so dashboards can tell a planned drain from a failure when
 * client reconnects spike. Mode 0644: the collector runs as its own user.
 *
 *   quantum_roll_run_started_timestamp_seconds{run_id}   when the run began
 *   quantum_roll_run_finished_timestamp_seconds{run_id}  when it ended (absent while it runs)
 *   quantum_roll_run_in_progress{run_id}                 1 while the run runs
 *   quantum_roll_run_nodes{state}                        nodes per state (pending, running, done, skipped, failed)
 *   quantum_roll_node_phase{node,phase}                  1 for the node's current phase, 0 for every other
 *   quantum_roll_node_wave{node}                         the wave the node belongs to
 *   quantum_roll_planned_drain{node}                     1 while a drain by this run is in force on the node
 *   quantum_roll_step_duration_seconds{node,step}        how long each finished step took
 *   quantum_roll_leaders_restored{node}                  PRGs whose leadership moved back to the node after its postcheck
 *
 * Every series is written for every node of the plan from the first write on, so a
 * dashboard sees a 0 → 1 edge rather than a series appearing.
 */
import { writeFileAtomic } from '../run/journal.js';
import type { StepName } from '../run/journal.js';
import type { Reporter } from '../steps/reporter.js';
import { RESTART_STEPS, stepNamed } from '../steps/index.js';

/** A node's phase: pending, the runbook step it is in (from the step records), or how it ended. */
export const PHASES: readonly string[] = ['pending', ...RESTART_STEPS.map((s) => s.name), 'done', 'skipped', 'failed', 'interrupted'];
export type Phase = string;
const LAST_STEP = RESTART_STEPS[RESTART_STEPS.length - 1]?.name;

export interface MetricsReporter extends Reporter {
  /** The run ended: record its end and final phases, and write a last time. */
  finish(status: 'done' | 'failed' | 'interrupted' | 'refused'): void;
}

export interface MetricsPlan {
  waves: readonly (readonly string[])[];
  /** nodes already finished before this process (resume) */
  done?: readonly string[];
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const secs = (ms: number) => (ms / 1000).toFixed(3);

export function metricsReporter(inner: Reporter, file: string, runId: string, startedAt: number, plan?: MetricsPlan): MetricsReporter {
  const phase = new Map<string, Phase>();
  const wave = new Map<string, number>();
  const drained = new Map<string, boolean>();
  const durations = new Map<string, Map<StepName, number>>();
  const restored = new Map<string, number>();
  let finishedAt: number | undefined;
  plan?.waves.forEach((w, i) =>
    w.forEach((id) => {
      wave.set(id, i + 1);
      phase.set(id, plan.done?.includes(id) ? 'done' : 'pending');
      drained.set(id, false);
    }),
  );
  const known = (node: string) => {
    if (!phase.has(node)) phase.set(node, 'pending');
    if (!drained.has(node)) drained.set(node, false);
  };

  let warned = false;
  const write = () => {
    const run = `run_id="${esc(runId)}"`;
    const lines: string[] = [
      '# HELP quantum_roll_run_started_timestamp_seconds When the quantum-roll run began (Unix time).',
      '# TYPE quantum_roll_run_started_timestamp_seconds gauge',
      `quantum_roll_run_started_timestamp_seconds{${run}} ${secs(startedAt)}`,
    ];
    if (finishedAt !== undefined) {
      lines.push(
        '# HELP quantum_roll_run_finished_timestamp_seconds When the quantum-roll run ended (Unix time).',
        '# TYPE quantum_roll_run_finished_timestamp_seconds gauge',
        `quantum_roll_run_finished_timestamp_seconds{${run}} ${secs(finishedAt)}`,
      );
    }
    lines.push(
      '# HELP quantum_roll_run_in_progress 1 while the quantum-roll run is in progress.',
      '# TYPE quantum_roll_run_in_progress gauge',
      `quantum_roll_run_in_progress{${run}} ${finishedAt === undefined ? 1 : 0}`,
    );
    const counts: Record<string, number> = { pending: 0, running: 0, done: 0, skipped: 0, failed: 0 };
    for (const p of phase.values()) {
      const k = p === 'pending' || p === 'done' || p === 'skipped' ? p : p === 'failed' || p === 'interrupted' ? 'failed' : 'running';
      counts[k] = (counts[k] ?? 0) + 1;
    }
    lines.push('# HELP quantum_roll_run_nodes Nodes of the run by state.', '# TYPE quantum_roll_run_nodes gauge');
    for (const [k, v] of Object.entries(counts)) lines.push(`quantum_roll_run_nodes{state="${k}"} ${v}`);
    lines.push(
      '# HELP quantum_roll_node_phase The phase each node of the run is in: 1 for the current phase, 0 otherwise (planned maintenance).',
      '# TYPE quantum_roll_node_phase gauge',
    );
    for (const [n, cur] of phase) for (const p of PHASES) lines.push(`quantum_roll_node_phase{node="${esc(n)}",phase="${p}"} ${p === cur ? 1 : 0}`);
    if (wave.size) {
      lines.push('# HELP quantum_roll_node_wave The wave of the run each node belongs to (1-based).', '# TYPE quantum_roll_node_wave gauge');
      for (const [n, w] of wave) lines.push(`quantum_roll_node_wave{node="${esc(n)}"} ${w}`);
    }
    lines.push(
      '# HELP quantum_roll_planned_drain 1 while a planned drain by quantum-roll is in force on the node (clients leaving it are expected).',
      '# TYPE quantum_roll_planned_drain gauge',
    );
    for (const [n, d] of drained) lines.push(`quantum_roll_planned_drain{node="${esc(n)}"} ${d ? 1 : 0}`);
    lines.push('# HELP quantum_roll_step_duration_seconds How long each finished pipeline step took.', '# TYPE quantum_roll_step_duration_seconds gauge');
    for (const [n, steps] of durations) for (const [s, ms] of steps) lines.push(`quantum_roll_step_duration_seconds{node="${esc(n)}",step="${s}"} ${secs(ms)}`);
    if (restored.size) {
      lines.push('# HELP quantum_roll_leaders_restored PRGs whose leadership moved back to the node after its postcheck.', '# TYPE quantum_roll_leaders_restored gauge');
      for (const [n, c] of restored) lines.push(`quantum_roll_leaders_restored{node="${esc(n)}"} ${c}`);
    }
    try {
      writeFileAtomic(file, `${lines.join('\n')}\n`, 0o644);
    } catch (err) {
      if (!warned) inner.warn(undefined, `cannot write --metrics-file ${file}: ${(err as Error).message}`);
      warned = true;
    }
  };
  write();
  return {
    stepStarted(node, step) {
      known(node);
      phase.set(node, step);
      // The drain flag is in force from the start of the step that sets it (its record says which).
      if (stepNamed(step)?.drainFlag === 'sets') drained.set(node, true);
      write();
      inner.stepStarted(node, step);
    },
    stepEnded(node, step, outcome, durationMs, summary) {
      known(node);
      let d = durations.get(node);
      if (!d) durations.set(node, (d = new Map()));
      d.set(step, durationMs);
      if (outcome === 'failed') {
        // A drain that took effect stays in force (the node is left drained, safely); a failed drain step is unknown: keep 1 if set.
        phase.set(node, 'failed');
      } else if (outcome === 'skipped') {
        phase.set(node, 'skipped');
      } else {
        if (stepNamed(step)?.drainFlag === 'clears') drained.set(node, false);
        if (step === LAST_STEP) phase.set(node, 'done');
      }
      write();
      inner.stepEnded(node, step, outcome, durationMs, summary);
    },
    waiting: (n, s, t) => inner.waiting(n, s, t),
    warn: (n, t) => inner.warn(n, t),
    info: (t) => inner.info(t),
    leadersRestored(node, moved, planned) {
      restored.set(node, moved);
      inner.leadersRestored?.(node, moved, planned);
    },
    finish(status) {
      finishedAt = Date.now();
      if (status === 'interrupted') for (const [n, p] of phase) if (p !== 'pending' && p !== 'done' && p !== 'skipped' && p !== 'failed') phase.set(n, 'interrupted');
      write();
    },
    close() {
      write();
      inner.close();
    },
  };
}
