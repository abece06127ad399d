/**
 * One step on one node, under the lease and journalled like a roll: `drain`,
 * `undrain`, `transfer-leaders`. The command opens the session, asks for confirmation
 * (`confirm`, after the node is resolved) and renders the outcome.
 */
import type { ClusterState } from '../clients/schemas.js';
import { resolveTargets } from '../cluster/targets.js';
import type { Config } from '../config/schema.js';
import type { ClusterAccess, Step } from '../steps/context.js';
import { type RollEnv, type RollOutcome, type RollPlan, roll } from './roll.js';

export interface SingleStepSession extends ClusterAccess {
  loaded: { file: string; config: Config };
  env(): RollEnv;
}

export interface SingleStep {
  /** the command's name, journalled as the run's command */
  command: string;
  step: Step;
  node: string;
  /** asked once the node is known, before anything changes */
  confirm(): Promise<void>;
  /** installs signal handling around the run; returns its uninstaller */
  guard(): () => void;
}

export async function runSingleStep(s: SingleStepSession, x: SingleStep): Promise<{ outcome: RollOutcome; plan: RollPlan }> {
  const state: ClusterState = await s.cp.clusterState();
  const [target] = resolveTargets(s.loaded.config, state, [x.node]);
  await x.confirm();
  const env = s.env();
  const plan: RollPlan = { command: x.command, nodes: [target!], waves: [[target!.id]], pauseMs: 0, configFile: s.loaded.file, options: {} };
  const uninstall = x.guard();
  try {
    return { outcome: await roll(env, plan, [x.step]), plan };
  } finally {
    uninstall();
  }
}
