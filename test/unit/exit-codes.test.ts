/**
 * Issue 20, item 2: exit codes keep their promise. 2, 3 and 4 say "nothing was changed";
 * once a run has changed a node, every failure exits 1 whatever its class (a usage-class
 * error found late, a refusal of the next node, a lease conflict), and an honoured stop
 * stays 130. The rule lives in util/errors.ts (exitCodeFor); the run engine (run/roll.ts)
 * gives it the fact, from the journal records of the nodes the run worked on.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { loadConfig } from '../../src/config/load.js';
import { Journal } from '../../src/run/journal.js';
import { newJournal, roll, type RollEnv, type RollPlan } from '../../src/run/roll.js';
import type { NodeTarget } from '../../src/steps/context.js';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import {
  ConfigError,
  ExitCode,
  InterruptedError,
  LeaseHeldError,
  QrError,
  RefusedError,
  StepError,
  UsageError,
  errorDocument,
  exitCodeFor,
} from '../../src/util/errors.js';
import { StopController } from '../../src/util/stop.js';
import { fakeStep, recordingReporter } from '../support/fake-steps.js';
import { tempDir } from '../support/http.js';

let sim: SimHandle;
let nodes: NodeTarget[];

beforeAll(async () => {
  sim = await startSim({ stateDir: await tempDir(), virtualNodes: true, nodes: 3, racks: 3, prgs: 6, replayMs: 50, lbCheckIntervalMs: 100 });
  nodes = sim.nodes.map((n) => ({ id: n.id, rack: n.rack, adminUrl: n.adminUrl, lbMember: n.id }) as NodeTarget);
});
afterAll(async () => {
  await sim?.stop();
});

async function envFor(plan: RollPlan): Promise<{ env: RollEnv; stateDir: string }> {
  const { config } = loadConfig(sim.configPath, {});
  const stateDir = await tempDir('qr-exit-');
  const base = {
    log: pino({ level: 'silent' }),
    cp: new ControlPlaneClient({ baseUrl: sim.cpUrl, retryBudgetMs: 2_000 }),
    lb: {} as RollEnv['lb'],
    runtimeFor: () => ({}) as ReturnType<RollEnv['runtimeFor']>,
    reporter: recordingReporter(),
    stop: new StopController(),
    runId: `run-${Math.random().toString(36).slice(2, 8)}`,
    initiator: 'quantum-roll@test:1/exit-codes',
    startedAt: Date.now(),
    config,
    options: { dryRun: false, allowOverload: false, force: false },
  };
  return { env: { ...base, journal: newJournal({ ...base }, plan, stateDir) }, stateDir };
}

const planOf = (ids: string[]): RollPlan => ({
  command: 'restart',
  nodes: nodes.filter((n) => ids.includes(n.id)),
  waves: ids.map((id) => [id]),
  pauseMs: 0,
  configFile: sim.configPath,
  options: {},
});

/** The runbook's shape with the journal's step names: a check, then changes; `fail` decides what throws where. */
function steps(fail: { step: string; node: string; err: () => Error }) {
  const throwing = (name: string) => (ctx: { node: { id: string } }) => {
    if (name === fail.step && ctx.node.id === fail.node) throw fail.err();
  };
  return ['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck'].map((name) =>
    fakeStep(name, { kind: name === 'precheck' ? 'check' : 'change', onRun: throwing(name) }),
  );
}

const CLASSES: Array<[string, () => QrError, ExitCode]> = [
  ['a usage error (e.g. a restart-command config problem found late)', () => new UsageError('restart.command: unknown placeholder {nodeid}'), ExitCode.usage],
  ['a config error', () => new ConfigError('restart.command', 'unknown placeholder {nodeid}'), ExitCode.usage],
  ['a refusal', () => new RefusedError('not safe'), ExitCode.refused],
  ['a lease conflict', () => new LeaseHeldError('someone-else', undefined), ExitCode.leaseHeld],
  ['a step failure', () => new StepError('the restart command exited 3'), ExitCode.failed],
];

describe('exitCodeFor: the one rule', () => {
  it('nothing changed: the class decides; something changed: 1, except 0 and 130', () => {
    for (const code of [ExitCode.failed, ExitCode.usage, ExitCode.refused, ExitCode.leaseHeld]) {
      expect(exitCodeFor(code, false)).toBe(code);
      expect(exitCodeFor(code, true)).toBe(ExitCode.failed);
    }
    expect(exitCodeFor(ExitCode.interrupted, true)).toBe(ExitCode.interrupted);
    expect(exitCodeFor(ExitCode.ok, true)).toBe(ExitCode.ok);
  });

  it('an error marked afterChange reports 1 in its exit code and its JSON document, keeping its class', () => {
    const e = new UsageError('late');
    e.afterChange = true;
    expect(e.exitCode).toBe(1);
    expect(e.classCode).toBe(2);
    expect(errorDocument(e).exit_code).toBe(1);
    const stop = new InterruptedError('stopped');
    stop.afterChange = true;
    expect(stop.exitCode).toBe(130);
  });
});

describe('roll: after the first change every failure exits 1, whatever its class', () => {
  for (const step of ['drain', 'quiesce', 'restart', 'readmit', 'postcheck']) {
    it.each(CLASSES)(`${step} fails with %s: exit 1, status failed, journal failed`, async (_what, err, _class) => {
      const plan = planOf([nodes[0]!.id]);
      const { env, stateDir } = await envFor(plan);
      const out = await roll(env, plan, steps({ step, node: nodes[0]!.id, err }));
      expect(out.exitCode).toBe(1);
      expect(out.status).toBe('failed');
      expect(out.error!.exitCode).toBe(1);
      expect(errorDocument(out.error).exit_code).toBe(1);
      expect(JSON.parse(readFileSync(Journal.path(stateDir), 'utf8')).status).toBe('failed');
    });
  }

  it.each(CLASSES)('the next node fails its precheck with %s after the first was restarted: exit 1, saying why', async (_what, err, cls) => {
    const plan = planOf([nodes[0]!.id, nodes[1]!.id]);
    const { env } = await envFor(plan);
    const out = await roll(env, plan, steps({ step: 'precheck', node: nodes[1]!.id, err }));
    expect(out.exitCode).toBe(1);
    expect(out.status).toBe('failed');
    expect(out.nodes.map((n) => [n.node, n.status])).toEqual([
      [nodes[0]!.id, 'done'],
      [nodes[1]!.id, 'failed'],
    ]);
    if (cls !== ExitCode.failed) expect(out.error!.message).toContain(`This run had already changed ${nodes[0]!.id}: exit 1, not ${cls}.`);
  });

  it.each(CLASSES)('the same class before any change keeps its own code (%s)', async (_what, err, cls) => {
    const plan = planOf([nodes[0]!.id, nodes[1]!.id]);
    const { env } = await envFor(plan);
    const out = await roll(env, plan, steps({ step: 'precheck', node: nodes[0]!.id, err }));
    expect(out.exitCode).toBe(cls);
  });
});
