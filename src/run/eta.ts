/**
 * How long a roll should take. Per step, an expected duration and an upper bound:
 *  - the bound comes from the configured timeouts and grace (what the tool waits at most);
 *  - the expectation is the median of what earlier runs observed, read from the
 *    journals in the state directory (the current one and the archived
 *    `journal.<run_id>.json`): restart and replay times differ a lot between clusters
 *    and are best learnt. Without history it falls back to the grace for quiesce and to
 *    documented defaults for the rest, and says so.
 * Nodes of a wave run concurrently, so a wave takes as long as its slowest node.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { journalSchema, STEP_NAMES, type StepName } from './journal.js';

export type EstimateSource = 'history' | 'config' | 'default';

export interface StepEstimate {
  step: StepName;
  /** what the step waits for, for a person */
  waits_for: string;
  expected_ms: number;
  max_ms: number;
  source: EstimateSource;
  /** observed durations the expectation is the median of (history only) */
  samples: number;
}

export interface EtaModel {
  steps: StepEstimate[];
  node_expected_ms: number;
  node_max_ms: number;
  /** `history` when every step is learnt, `defaults` when none is, else `mixed` */
  basis: 'history' | 'defaults' | 'mixed';
  history: { runs: number; node_restarts: number };
}

export interface PlanEta {
  expected_ms: number;
  max_ms: number;
  pause_ms: number;
  waves: Array<{ expected_ms: number; max_ms: number }>;
}

/** Defaults when no run has been observed yet (ms). Documented in docs/plan-schema.md. */
export const DEFAULT_STEP_MS: Record<StepName, number> = {
  precheck: 500,
  'leader-transfer': 2_000,
  drain: 1_000,
  quiesce: 0, // the grace, from config
  restart: 15_000,
  readmit: 30_000,
  postcheck: 1_000,
};

const HISTORY_RUNS = 10;

/** Observed durations per step of every node that finished, over the latest journals. */
export function readHistory(stateDir: string): { samples: Map<StepName, number[]>; runs: number; nodeRestarts: number } {
  const samples = new Map<StepName, number[]>();
  let runs = 0;
  let nodeRestarts = 0;
  let files: Array<{ file: string; mtime: number }>;
  try {
    files = readdirSync(stateDir)
      .filter((f) => /^journal(\.[A-Za-z0-9._-]+)?\.json$/.test(f))
      .map((f) => {
        const file = join(stateDir, f);
        return { file, mtime: statSync(file).mtimeMs };
      })
      .sort((a, b) => b.mtime - a.mtime)
      .slice(0, HISTORY_RUNS);
  } catch {
    return { samples, runs, nodeRestarts };
  }
  for (const { file } of files) {
    let data;
    try {
      const parsed = journalSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (!parsed.success) continue;
      data = parsed.data;
    } catch {
      continue;
    }
    let used = false;
    for (const rec of Object.values(data.nodes)) {
      if (rec.status !== 'done') continue;
      used = true;
      nodeRestarts++;
      for (const step of STEP_NAMES) {
        const s = rec.steps[step];
        if (s?.outcome !== 'done' || typeof s.duration_ms !== 'number') continue;
        let list = samples.get(step);
        if (!list) samples.set(step, (list = []));
        list.push(s.duration_ms);
      }
    }
    if (used) runs++;
  }
  return { samples, runs, nodeRestarts };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Upper bounds and what each step waits for, from the config alone. */
export function stepBounds(config: Config): Record<StepName, { max_ms: number; waits_for: string }> {
  const t = config.timeouts;
  const q = config.quiesce;
  const readyCap = t.ready_max ?? t.ready * 4;
  const settle = Math.max(t.recovery, 10_000);
  return {
    precheck: { max_ms: config.control_plane.request_timeout + 10_000, waits_for: 'CP, PRG, LB and spare-capacity reads on fresh state' },
    'leader-transfer': { max_ms: t.leader_transfer, waits_for: 'the CP to show the node leading no PRG (moved outside the wave)' },
    drain: { max_ms: t.lb, waits_for: 'drain flag set, then the LB showing the member out of service' },
    quiesce: {
      max_ms: q.grace + (q.disconnect ? 1_000 : 0),
      waits_for: `sessions ≤ ${q.target_sessions} or the ${fmt(q.grace)} grace${q.disconnect ? `, then DISCONNECT ${q.disconnect.reason_code} at ${q.disconnect.rate_per_s}/s` : ''}`,
    },
    restart: { max_ms: config.restart.timeout + t.ready, waits_for: `the restart command (≤ ${fmt(config.restart.timeout)}), then a new boot_id` },
    readmit: { max_ms: readyCap + 2 * t.lb, waits_for: 'ready but for draining (replay; extends while it progresses), LB healthy' },
    postcheck: {
      max_ms: settle + t.recovery,
      waits_for: `≥ ${config.checks.min_prgs_ready_ratio} PRGs ready, none in strict fallback${t.recovery ? `; sessions back to ${config.checks.session_recovery_ratio} (≤ ${fmt(t.recovery)})` : ''}`,
    },
  };
}

export function etaModel(config: Config, history: ReturnType<typeof readHistory> | undefined): EtaModel {
  const bounds = stepBounds(config);
  const steps: StepEstimate[] = STEP_NAMES.map((step) => {
    const b = bounds[step];
    const seen = history?.samples.get(step) ?? [];
    if (seen.length > 0) {
      return { step, waits_for: b.waits_for, expected_ms: Math.min(Math.round(median(seen)), b.max_ms), max_ms: b.max_ms, source: 'history', samples: seen.length };
    }
    if (step === 'quiesce') {
      return { step, waits_for: b.waits_for, expected_ms: config.quiesce.grace, max_ms: b.max_ms, source: 'config', samples: 0 };
    }
    return { step, waits_for: b.waits_for, expected_ms: Math.min(DEFAULT_STEP_MS[step], b.max_ms), max_ms: b.max_ms, source: 'default', samples: 0 };
  });
  const learnt = steps.filter((s) => s.source === 'history').length;
  return {
    steps,
    node_expected_ms: steps.reduce((t, s) => t + s.expected_ms, 0),
    node_max_ms: steps.reduce((t, s) => t + s.max_ms, 0),
    basis: learnt === steps.length ? 'history' : learnt === 0 ? 'defaults' : 'mixed',
    history: { runs: history?.runs ?? 0, node_restarts: history?.nodeRestarts ?? 0 },
  };
}

/** Waves run one after another, the nodes of a wave together; pauses sit between waves. */
export function planEta(waves: readonly (readonly string[])[], model: EtaModel, pauseMs: number): PlanEta {
  const per = waves.map(() => ({ expected_ms: model.node_expected_ms, max_ms: model.node_max_ms }));
  const pauses = Math.max(0, waves.length - 1) * pauseMs;
  return {
    expected_ms: per.reduce((t, w) => t + w.expected_ms, 0) + pauses,
    max_ms: per.reduce((t, w) => t + w.max_ms, 0) + pauses,
    pause_ms: pauseMs,
    waves: per,
  };
}

/** `1h 02m`, `4m 10s`, `38s`: coarse on purpose, an ETA is not a stopwatch. */
export function fmt(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
