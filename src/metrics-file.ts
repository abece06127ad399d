/**
 * `--metrics-file`: Prometheus text for node_exporter's textfile collector, written
 * atomically at every step boundary, so dashboards can tell a planned drain from a
 * failure when client reconnects spike.
 */
import { writeFileAtomic } from './journal.js';
import type { StepName } from './journal.js';
import type { Reporter } from './reporter.js';

const IN_PLANNED_DRAIN: ReadonlySet<StepName> = new Set(['drain', 'quiesce', 'restart', 'readmit']);

export function metricsReporter(inner: Reporter, file: string, runId: string, startedAt: number): Reporter {
  const phase = new Map<string, string>();
  const drained = new Map<string, boolean>();
  const durations: Array<[string, StepName, number]> = [];
  const write = () => {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const lines = [
      '# HELP quantum_roll_run_started_timestamp_seconds When the current quantum-roll run began.',
      '# TYPE quantum_roll_run_started_timestamp_seconds gauge',
      `quantum_roll_run_started_timestamp_seconds{run_id="${esc(runId)}"} ${(startedAt / 1000).toFixed(3)}`,
      '# HELP quantum_roll_node_phase The pipeline step each node is in (1) — planned maintenance.',
      '# TYPE quantum_roll_node_phase gauge',
      ...[...phase].map(([n, p]) => `quantum_roll_node_phase{node="${esc(n)}",phase="${esc(p)}"} 1`),
      '# HELP quantum_roll_planned_drain 1 while a planned drain by quantum-roll is in force on the node.',
      '# TYPE quantum_roll_planned_drain gauge',
      ...[...drained].map(([n, d]) => `quantum_roll_planned_drain{node="${esc(n)}"} ${d ? 1 : 0}`),
      '# HELP quantum_roll_step_duration_seconds How long each finished step took.',
      '# TYPE quantum_roll_step_duration_seconds gauge',
      ...durations.map(([n, s, ms]) => `quantum_roll_step_duration_seconds{node="${esc(n)}",step="${s}"} ${(ms / 1000).toFixed(3)}`),
    ];
    try {
      writeFileAtomic(file, `${lines.join('\n')}\n`);
    } catch (err) {
      inner.warn(undefined, `cannot write --metrics-file ${file}: ${(err as Error).message}`);
    }
  };
  write();
  return {
    stepStarted(node, step) {
      phase.set(node, step);
      if (step === 'drain') drained.set(node, true);
      write();
      inner.stepStarted(node, step);
    },
    stepEnded(node, step, outcome, durationMs, summary) {
      durations.push([node, step, durationMs]);
      if (outcome === 'done' && step === 'readmit') drained.set(node, false);
      if (outcome !== 'failed' && step === 'postcheck') phase.set(node, 'done');
      if (outcome === 'failed') phase.set(node, `failed:${step}`);
      if (!IN_PLANNED_DRAIN.has(step) && !drained.has(node)) drained.set(node, false);
      write();
      inner.stepEnded(node, step, outcome, durationMs, summary);
    },
    waiting: (n, s, t) => inner.waiting(n, s, t),
    warn: (n, t) => inner.warn(n, t),
    info: (t) => inner.info(t),
    close() {
      write();
      inner.close();
    },
  };
}
