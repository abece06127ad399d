/**
 * Looking at a simulated cluster straight through its HTTP APIs (not through the
 * CLI, which may be the thing under test or blocked by a fault), reading the run
 * journal, and driving the CLI as a background process.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { defaultFaults } from '../../src/sim/index.js';
import type { Faults } from '../../src/sim/index.js';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { spawnCli, startCluster, toResult, type CliResult, type TestCluster } from './cli.js';

export interface NodeView {
  id: string;
  draining: boolean;
  ready: boolean;
  reasons: string[];
  adminState: string;
  health: string;
  bootId: string;
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Drain flag, readiness and boot id from the node's admin API; admin state and health from the LB. */
export async function nodeView(c: TestCluster, id: string): Promise<NodeView> {
  const n = c.sim.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  const [drain, ready, info, lb] = await Promise.all([
    getJson(`${n.adminUrl}/v1/drain`),
    getJson(`${n.adminUrl}/readyz`),
    getJson(`${n.adminUrl}/v1/node`),
    getJson(`${c.sim.lbUrl}/v1/pools/mqtt/members/${id}`),
  ]);
  return {
    id,
    draining: drain.body.draining,
    ready: ready.body.ready,
    reasons: ready.body.reasons,
    adminState: lb.body.admin_state,
    health: lb.body.health,
    bootId: info.body.boot_id,
  };
}

/** True when the node is in service: ready, not drained, LB member enabled and up. */
export function inService(v: NodeView): boolean {
  return v.ready && !v.draining && v.adminState === 'enabled' && v.health === 'up';
}

/**
 * In service within `ms`: the LB's own health checks (every 100 ms, rise = fall = 1)
 * can flap on a heavily loaded machine, so a verdict is given a few seconds.
 */
export async function eventuallyInService(c: TestCluster, id: string, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (inService(await nodeView(c, id))) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Drained and out of the LB (what invariant 8 leaves behind after a failure). */
export function drainedAndOut(v: NodeView): boolean {
  return v.draining && v.adminState !== 'enabled';
}

/** The holder of the rolling-restart lease, or null when free (reads the CP directly). */
export async function leaseHolder(c: TestCluster): Promise<string | null> {
  const r = await getJson(`${c.sim.cpUrl}/v1/leases/rolling-restart`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`lease read answered ${r.status}`);
  return r.body.holder as string;
}

export function journalPath(c: TestCluster): string {
  return join(c.dir, '.quantum-roll', 'journal.json');
}

export async function readJournal(c: TestCluster): Promise<any | undefined> {
  try {
    return JSON.parse(await readFile(journalPath(c), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Polls the journal until `pred` holds (every 10 ms); throws after `timeoutMs`, or
 * as soon as `proc` (the CLI being watched) has exited, with its output.
 */
export async function waitJournal(c: TestCluster, pred: (j: any) => boolean, timeoutMs = 30_000, proc?: ResultPromise): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = await readJournal(c);
    if (j && pred(j)) return j;
    if (proc && proc.exitCode !== null) {
      const r = await finish(proc);
      throw new Error(`the CLI exited ${r.code} before the journal matched: ${r.stdout.slice(0, 1500)}`);
    }
    if (Date.now() > end) throw new Error(`journal never matched; last: ${JSON.stringify(j?.nodes ?? j)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The node record's step and its outcome, e.g. ["quiesce", "running"]. */
export function stepOf(j: any, node: string): [string | null, string | undefined] {
  const r = j?.nodes?.[node];
  if (!r) return [null, undefined];
  return [r.step, r.step ? r.steps[r.step]?.outcome : undefined];
}

/** Starts the CLI in the background against the cluster (with --json). */
export function startCli(c: TestCluster, args: string[]): ResultPromise {
  return spawnCli([...args, '--config', c.config, '--json'], { cwd: c.dir });
}

export async function finish(p: ResultPromise): Promise<CliResult> {
  return toResult(await p);
}

export async function resetFaults(c: TestCluster, extra: Partial<Faults> = {}): Promise<void> {
  await c.sim.setFaults({ ...defaultFaults(), ...extra });
}

/** Runs `body` with a patched config, then restores the config file as it was. */
export async function withConfig<T>(c: TestCluster, change: (cfg: Record<string, any>) => void, body: () => Promise<T>): Promise<T> {
  const original = await readFile(c.config, 'utf8');
  await c.patchConfig(change);
  try {
    return await body();
  } finally {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(c.config, original);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds; the test's own timeout bounds the wait. */
export async function eventually(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await sleep(20);
}

/** Returns once the running CLI has written text matching `re` on `stream` (what it printed so far counts). */
export function untilOutput(p: ResultPromise, stream: 'stdout' | 'stderr', re: RegExp): Promise<void> {
  const s = p[stream];
  if (!s) throw new Error(`the CLI's ${stream} is not piped`);
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (re.test(seen)) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
    void p.then(
      () => reject(new Error(`the CLI exited before writing ${re} on ${stream}: ${seen.slice(-1500)}`)),
      () => undefined,
    );
  });
}

const STEPS = ['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck'];

/** True once the node's journal record reached `step` (or went past it, or finished). */
export function reached(j: any, node: string, step: string): boolean {
  const r = j?.nodes?.[node];
  if (!r || r.step === null) return false;
  return r.status === 'done' || STEPS.indexOf(r.step) >= STEPS.indexOf(step);
}

/** The JSON error of a failed run names the step and the node (and exits with `code`). */
export function expectStepFailure(r: CliResult, code: number, step: string, node: string): any {
  expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(code);
  const doc = r.json as any;
  expect(doc.ok).toBe(false);
  expect(doc.exit_code).toBe(code);
  expect(doc.error.step).toBe(step);
  expect(doc.error.node).toBe(node);
  expect(doc.error.message).toContain(node);
  return doc.error;
}

/** After a failed row: `resume` finishes what the journal left, every node is back in service, the lease is free. */
export async function finishWithResume(c: TestCluster): Promise<void> {
  const j = await readJournal(c);
  if (j && ['running', 'failed', 'interrupted'].includes(j.status)) {
    const r = await c.cli(['resume', '--yes']);
    expect(r.code, `resume: ${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
  }
  for (const n of c.sim.nodes) expect(await eventuallyInService(c, n.id), `${n.id} back in service`).toBe(true);
  expect(await leaseHolder(c)).toBeNull();
}

/**
 * One simulator for a describe block: started before its tests (handed to `bind`),
 * stopped after them; after each test the faults are reset and `after` runs.
 */
export function useCluster(bind: (c: TestCluster) => void, after?: (c: TestCluster) => Promise<void>): void {
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    bind(cluster);
  }, 120_000);
  afterAll(async () => cluster?.stop());
  afterEach(async () => {
    if (!cluster) return;
    await resetFaults(cluster);
    await after?.(cluster);
  }, 120_000);
}
