/**
 * The plan document's types: what `plan --json` (and `restart … --json`) print,
 * documented in docs/plan-schema.md. Built by ./document.ts, drawn by render/plan.ts.
 */
import type { RestoreResult } from '../../steps/restore-leaders.js';
import type { ClusterState, CpStatus, LeaseInfo, Prg } from '../../clients/schemas.js';
import type { Config } from '../../config/schema.js';
import type { NodeTarget } from '../../steps/context.js';
import type { QuorumBlocker } from '../../cluster/quorum.js';
import type { EtaModel, PlanEta, StepEstimate } from '../eta.js';

export const PLAN_SCHEMA = 'quantum-roll/plan@1';

export interface PlanFacts {
  generatedAt: string;
  configFile: string;
  config: Config;
  state: ClusterState;
  /** the CP's own `/readyz` answer: the contract's rule for "the CP is healthy" (cluster/verdicts.ts cpVerdict) */
  cpReady: { ok: boolean; cp: CpStatus };
  /** every PRG of the cluster */
  prgs: readonly Prg[];
  targets: readonly NodeTarget[];
  waves: readonly (readonly string[])[];
  lb: { name: string; endpoint: string };
  /** null when free */
  lease: LeaseInfo | null | { error: string };
  eta: EtaModel;
  options: {
    parallel: number | 'auto';
    pauseMs: number;
    all: boolean;
    force: boolean;
    allowOverload: boolean;
    nodes: readonly string[];
    /** The config file the plan was made with, when given by --config or $QUANTUM_ROLL_CONFIG: `run_command` carries it. */
    configFile?: string;
    /** The state dir the plan was made with, when given by --state-dir: `run_command` carries it. */
    stateDir?: string;
  };
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'not_run';

export interface PlanCheck {
  id: 'cp_healthy' | 'prgs_ready' | 'placement' | 'lease' | 'wave_quorum' | 'precheck';
  scope: 'cluster' | 'wave' | 'node';
  wave?: number;
  node?: string;
  status: CheckStatus;
  summary: string;
  evidence?: Record<string, unknown>;
}

export type PlanNodeStatus = 'planned' | 'skipped' | 'refused' | 'failed' | 'not_checked' | 'pending' | 'done' | 'interrupted';

export interface PlanWait {
  step: string;
  for: string;
  expected_ms: number;
  max_ms: number;
}

export interface PlanNode {
  wave: number;
  status: PlanNodeStatus;
  rack: string;
  zone: string | null;
  state: string | null;
  admin_url: string;
  lb_member: string;
  hosts_cp_leader: boolean;
  prgs_hosted: number;
  prgs_led: string[];
  prgs_led_count: number;
  sessions: number | null;
  lb_actions: string[];
  restart_argv: string[] | null;
  waits: PlanWait[];
  expected_ms: number;
  max_ms: number;
  precheck: { status: CheckStatus; summary: string | null; warnings: string[] };
  steps: Array<{ step: string; outcome: string; duration_ms: number; summary: string; actions?: string[] }>;
  /** leadership actually moved (a real run) */
  prgs_moved?: string[];
  /** leadership moved back after the postcheck (invariant 10): a plan says how many would, a run how many did */
  leaders_restored?: RestoreResult;
  warnings: string[];
  error: string | null;
}

export interface PlanWave {
  index: number;
  nodes: string[];
  racks: string[];
  expected_ms: number;
  max_ms: number;
  quorum: { ok: boolean; prgs_checked: number; blockers: QuorumBlocker[] };
}

export interface PlanDocument {
  ok: boolean;
  exit_code: number;
  schema: typeof PLAN_SCHEMA;
  run_id: string;
  dry_run: boolean;
  status: 'planned' | 'done' | 'refused' | 'failed' | 'interrupted';
  generated_at: string;
  config_file: string;
  /** the command that carries this plan out */
  run_command: string;
  options: { parallel: number | 'auto'; pause_ms: number; all: boolean; force: boolean; allow_overload: boolean };
  cluster: {
    cp: { leader: string | null; term: number; healthy: boolean };
    nodes: number;
    prgs: { total: number; ready: number; strict_fallback: number };
    placement: { policy: string; violations: number };
    lease: { holder: string; expires_at: string } | null | { error: string };
    lb: { adapter: string; endpoint: string };
  };
  waves: PlanWave[];
  nodes: Record<string, PlanNode>;
  checks: PlanCheck[];
  eta: PlanEta & { basis: EtaModel['basis']; history: EtaModel['history']; steps: StepEstimate[] };
  journal: string | null;
  error?: Record<string, unknown> & { message: string };
}
