/**
 * How long a roll should take. Per step, an expected duration and an upper bound:
 *  - the bound comes from the configured timeouts and grace (what the tool waits at most);
 *  - the expectation is the median of what earlier runs observed, read from the
 *    journals in the state directory (the current one and the archived
 *    `journal.<run_id>.json`): restart and replay times differ a lot between clusters
 *    and are best learnt. Without history it falls back to the grace for quiesce and to
 *    documented defaults for the rest, and says so.
 * Nodes of a wave run concurrently, so a wave takes as long as its slowest node.
 * What each step waits for, its bound and its default come from the step's record
 * (`Step.waits`, src/steps/).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { journalSchema, type StepName } from './journal.js';
import type { Step } from '../steps/context.js';
import { RESTART_STEPS } from '../steps/index.js';

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

const HISTORY_RUNS = 10;

/** Observed durations per step of every node that finished, over the latest journals. */
export function readHistory(stateDir: string, steps: readonly Step[] = RESTART_STEPS): { samples: Map<StepName, number[]>; runs: number; nodeRestarts: number } {
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
      for (const { name: step } of steps) {
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

export function etaModel(config: Config, history: ReturnType<typeof readHistory> | undefined, runbook: readonly Step[] = RESTART_STEPS): EtaModel {
  const steps: StepEstimate[] = runbook.map((s) => {
    const w = s.waits(config);
    const seen = history?.samples.get(s.name) ?? [];
    const learnt = seen.length > 0;
    return {
      step: s.name,
      waits_for: w.for,
      expected_ms: Math.min(learnt ? Math.round(median(seen)) : w.expectedMs, w.maxMs),
      max_ms: w.maxMs,
      source: learnt ? 'history' : w.expectedFrom,
      samples: seen.length,
    };
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
