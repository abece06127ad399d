/**
 * For the plan, wave and status tests: the plan document of docs/plan-schema.md as a
 * zod schema, and reads straight from the simulator (PRGs from its CP, the journal).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import type { TestCluster } from './cli.js';

// ---- docs/plan-schema.md, transcribed ------------------------------------------------
const checkStatus = z.enum(['pass', 'warn', 'fail', 'skip', 'not_run']);
const blocker = z.object({
  prg: z.string(),
  reason: z.enum(['quorum', 'no_leader', 'strict_fallback']),
  voters: z.number().int(),
  needed: z.number().int(),
  healthyRemaining: z.number().int(),
  unavailable: z.array(z.object({ node: z.string(), state: z.string(), leaving: z.boolean() })),
});
const wave = z.object({
  index: z.number().int().positive(),
  nodes: z.array(z.string()).min(1),
  racks: z.array(z.string()),
  expected_ms: z.number().nonnegative(),
  max_ms: z.number().nonnegative(),
  quorum: z.object({ ok: z.boolean(), prgs_checked: z.number().int().nonnegative(), blockers: z.array(blocker) }),
});
const node = z.object({
  wave: z.number().int().positive(),
  status: z.enum(['planned', 'skipped', 'refused', 'failed', 'not_checked', 'pending', 'done', 'interrupted']),
  rack: z.string(),
  zone: z.string().nullable(),
  state: z.string().nullable(),
  admin_url: z.string().url(),
  lb_member: z.string(),
  hosts_cp_leader: z.boolean(),
  prgs_hosted: z.number().int().nonnegative(),
  prgs_led: z.array(z.string().regex(/^prg-/)),
  prgs_led_count: z.number().int().nonnegative(),
  sessions: z.number().int().nonnegative().nullable(),
  lb_actions: z.array(z.string()).min(1),
  restart_argv: z.array(z.string()).min(1).nullable(),
  waits: z.array(z.object({ step: z.string(), for: z.string(), expected_ms: z.number().nonnegative(), max_ms: z.number().nonnegative() })).length(7),
  expected_ms: z.number().nonnegative(),
  max_ms: z.number().nonnegative(),
  precheck: z.object({ status: checkStatus, summary: z.string().nullable(), warnings: z.array(z.string()) }),
  steps: z.array(z.object({ step: z.string(), outcome: z.string(), duration_ms: z.number(), summary: z.string(), actions: z.array(z.string()).optional() })),
  prgs_moved: z.array(z.string()).optional(),
  warnings: z.array(z.string()),
  error: z.string().nullable(),
});
const check = z.object({
  id: z.enum(['cp_healthy', 'prgs_ready', 'placement', 'lease', 'wave_quorum', 'precheck']),
  scope: z.enum(['cluster', 'wave', 'node']),
  wave: z.number().int().positive().optional(),
  node: z.string().optional(),
  status: checkStatus,
  summary: z.string(),
  evidence: z.record(z.string(), z.unknown()).optional(),
});
const stepEstimate = z.object({
  step: z.string(),
  waits_for: z.string(),
  expected_ms: z.number().nonnegative(),
  max_ms: z.number().nonnegative(),
  source: z.enum(['history', 'config', 'default']),
  samples: z.number().int().nonnegative(),
});
export const planSchema = z.strictObject({
  ok: z.boolean(),
  exit_code: z.number().int(),
  schema: z.literal('quantum-roll/plan@1'),
  run_id: z.string(),
  dry_run: z.boolean(),
  status: z.enum(['planned', 'done', 'refused', 'failed', 'interrupted']),
  generated_at: z.iso.datetime(),
  config_file: z.string(),
  run_command: z.string().startsWith('quantum-roll restart'),
  options: z.strictObject({
    parallel: z.union([z.number().int().positive(), z.literal('auto')]),
    pause_ms: z.number().int().nonnegative(),
    all: z.boolean(),
    force: z.boolean(),
    allow_overload: z.boolean(),
  }),
  cluster: z.strictObject({
    cp: z.object({ leader: z.string().nullable(), term: z.number().int(), healthy: z.boolean() }),
    nodes: z.number().int(),
    prgs: z.object({ total: z.number().int(), ready: z.number().int(), strict_fallback: z.number().int() }),
    placement: z.object({ policy: z.enum(['one_replica_per_node', 'one_replica_per_rack']), violations: z.number().int() }),
    lease: z.union([z.null(), z.object({ holder: z.string(), expires_at: z.string() }), z.object({ error: z.string() })]),
    lb: z.object({ adapter: z.string(), endpoint: z.string() }),
  }),
  waves: z.array(wave),
  nodes: z.record(z.string(), node),
  checks: z.array(check),
  eta: z.strictObject({
    expected_ms: z.number().nonnegative(),
    max_ms: z.number().nonnegative(),
    pause_ms: z.number().int().nonnegative(),
    waves: z.array(z.object({ expected_ms: z.number().nonnegative(), max_ms: z.number().nonnegative() })),
    basis: z.enum(['history', 'defaults', 'mixed']),
    history: z.object({ runs: z.number().int().nonnegative(), node_restarts: z.number().int().nonnegative() }),
    steps: z.array(stepEstimate).length(7),
  }),
  journal: z.string().nullable(),
  log_file: z.string().nullable(),
  error: z.looseObject({ message: z.string() }).optional(),
});
export type PlanDoc = z.infer<typeof planSchema>;

/** Parses a document against the schema, with the zod issues in the failure message. */
export function parsePlan(doc: unknown): PlanDoc {
  const r = planSchema.safeParse(doc);
  if (!r.success) throw new Error(`plan --json does not match docs/plan-schema.md:\n${JSON.stringify(r.error.issues.slice(0, 10), null, 2)}`);
  return r.data;
}

interface CpPrg {
  id: string;
  leader: string | null;
  replicas: Array<{ node: string; state: string }>;
}

/** PRGs straight from the simulated CP (all pages). */
export async function cpPrgs(c: TestCluster, query = ''): Promise<CpPrg[]> {
  const out: CpPrg[] = [];
  let cursor: string | null = null;
  do {
    const qs = [query, 'limit=1000', cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
    const r = await fetch(`${c.sim.cpUrl}/v1/prgs?${qs}`);
    const body = (await r.json()) as { items: CpPrg[]; next_cursor: string | null };
    out.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  return out;
}

/** The run journal of the cluster's state dir, or undefined before the first run. */
export async function readJournal(c: TestCluster): Promise<{ run_id: string; status: string; waves: string[][]; nodes: Record<string, { status: string }> } | undefined> {
  try {
    return JSON.parse(await readFile(join(c.dir, '.quantum-roll', 'journal.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Polls `probe` every `everyMs` until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
