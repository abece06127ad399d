/**
 * What a step is given. Typed, not a bag of strings: the run's environment
 * (clients, adapter, config, reporter, stop), the node it works on, and that
 * node's journal record.
 */
import type { Logger } from '../util/log.js';
import type { LbAdapter, LbTarget } from '../adapters/lb/types.js';
import type { ControlPlaneClient } from '../clients/control-plane.js';
import type { RuntimeClient } from '../clients/runtime.js';
import type { Config } from '../config/schema.js';
import type { NodeRecord, StepName } from './record.js';
import type { Reporter } from './reporter.js';
import type { StopController } from '../util/stop.js';
import type { NodeTarget } from '../cluster/targets.js';

export type { NodeTarget };


export interface RunOptions {
  dryRun: boolean;
  /** Proceed when spare capacity is short (warn instead of refusing). */
  allowOverload: boolean;
  /** Restart a node even if it booted after the run started. */
  force: boolean;
}

/** What every command that talks to the cluster holds: the clients, the LB adapter, logging, progress and stop. */
export interface ClusterAccess {
  log: Logger;
  cp: ControlPlaneClient;
  lb: LbAdapter;
  runtimeFor(node: NodeTarget): RuntimeClient;
  reporter: Reporter;
  stop: StopController;
}

/**
 * The reads of each client: all a dry run is given. A step's `plan()` holds these
 * types, so "a dry run sends nothing that changes anything" is checked by the
 * compiler, not by convention.
 */
export type CpReads = Pick<ControlPlaneClient, 'readyz' | 'clusterState' | 'listPrgs' | 'lease'>;
export type NodeReads = Pick<RuntimeClient, 'adminUrl' | 'readyz' | 'node'>;
export type LbReads = Pick<LbAdapter, 'name' | 'endpoint' | 'status'>;

export interface RunEnv extends ClusterAccess {
  runId: string;
  /** `quantum-roll@<host>:<pid>` plus run id, sent as the drain initiator and lease holder. */
  initiator: string;
  /** Epoch ms when the run began (a node that booted later was restarted by someone else). */
  startedAt: number;
  config: Config;
  options: RunOptions;
}

/** The run's environment as a dry run sees it: the same, but its clients only read. */
export interface ReadEnv extends Omit<RunEnv, 'cp' | 'lb' | 'runtimeFor'> {
  cp: CpReads;
  lb: LbReads;
  runtimeFor(node: NodeTarget): NodeReads;
}

/** What `Step.plan()` is given: a StepContext whose clients only read. */
export interface PlanContext extends Omit<StepContext, 'env' | 'runtime'> {
  env: ReadEnv;
  runtime: NodeReads;
}

export interface StepContext {
  env: RunEnv;
  node: NodeTarget;
  runtime: RuntimeClient;
  lbTarget: LbTarget;
  /** Every node of the current wave: leadership must move outside it, capacity must come from outside it. */
  wave: readonly string[];
  /** This node's journal record (in memory only for a dry run). */
  record: NodeRecord;
  /** Changes the record and persists it at once (no-op persistence in a dry run). */
  save(change: (r: NodeRecord) => void): void;
  /** Progress text for a wait ("412 sessions left, 18 s of 30 s grace"). */
  say(text: string): void;
  log: Logger;
  step: StepName;
}

export interface StepResult<D = unknown> {
  summary: string;
  /** Actions taken (or, in a dry run, that would be taken). */
  actions?: string[];
  warnings?: string[];
  /** The node is skipped from here on (e.g. it was restarted by someone else since the run began). */
  skipNode?: boolean;
  /** The step's own typed result (read back with `resultOf(step, reports)` in run/pipeline.ts). */
  data?: D;
}

/** What a step waits for and what bounds it, from the config: the ETA, the plan and the live view read it here. */
export interface StepWait {
  /** what the step waits for, for a person */
  for: string;
  /** the most it waits (ms), from the config keys in `Step.boundBy` */
  maxMs: number;
  /** what it takes without history to learn from (ms), and where that figure comes from */
  expectedMs: number;
  expectedFrom: 'config' | 'default';
  /** nothing to wait for on this node (e.g. it leads no PRG): it takes no time */
  nothing?: boolean;
}

/** What the plan knows of one node, for the per-node wait text. */
export interface NodeWaitFacts {
  id: string;
  lbMember: string;
  prgsLed: number;
  /** its sessions as the precheck saw them, null before a precheck */
  sessions: number | null;
}

/**
 * The one record of what a step is. Everything else (ETA, plan text, live view,
 * journal, metrics file, the roll's safe points) derives from it: adding a step is
 * one file plus one line in the runbook list (src/steps/index.ts).
 */
export interface Step<D = unknown> {
  /** journal, events and metrics name it so */
  name: StepName;
  /** short label for the live view */
  label: string;
  /** what it is doing before it says more (live view) */
  doing: string;
  /** `check` reads only (a wave's checks all run before any node changes); `change` changes the cluster */
  kind: 'check' | 'change';
  /** the config keys whose values bound how long it waits */
  boundBy: readonly string[];
  /** what it waits for and how long at most; with `node`, in that node's words (the plan) */
  waits(config: Config, node?: NodeWaitFacts): StepWait;
  /** the node's drain flag: this step sets it, or clears it (metrics: a planned drain in force) */
  drainFlag?: 'sets' | 'clears';
  /** Run for real. */
  run(ctx: StepContext): Promise<StepResult<D>>;
  /** Dry run: reads only (its context has no method that changes anything), returns the actions it would take. */
  plan(ctx: PlanContext): Promise<StepResult<D>>;
}

export function lbTargetOf(node: NodeTarget): LbTarget {
  return { node: node.id, member: node.lbMember, adminUrl: node.adminUrl };
}
