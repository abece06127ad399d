// Fault knobs: defaults, validation of partial updates, and `key=value` parsing for the CLI.
import * as z from 'zod';
import type { Faults } from './types.js';

export function defaultFaults(): Faults {
  return {
    noBatch: false,
    transferDelayMs: 5,
    transfersNeverComplete: false,
    transferConcurrency: 0,
    transferServiceMs: 0,
    noEligibleTarget: false,
    replicaDown: [],
    neverReady: [],
    slowReady: {},
    cpCacheStale: [],
    lbNeverHealthy: [],
    lbError: false,
    cpUnavailable: false,
    cpUnhealthy: false,
    cpReadyzFails: false,
    cpFlakyRatio: 0,
    cpMalformed: null,
    restartNoop: false,
    restartFail: false,
    restartHang: false,
    strictFallback: 0,
    leaseHeldBy: null,
    hostileNodeId: false,
    cursorLoop: false,
    hugeBodyBytes: 0,
    placementViolation: false,
    sessionDecay: 0.15,
    electionDelayMs: 50,
    park: null,
    storeLatencyMs: 0,
    dropPublish: [],
    acceptWhileDraining: [],
    holdConnect: [],
    connectAnswerMs: 5_000,
    cpDropAnswer: null,
  };
}

const nodeList = z.array(z.string());
const boolOrNodes = z.union([z.boolean(), nodeList]);
/** A rule's `pattern`: refused at the control API when it is no regular expression. */
const regexPattern = z.string().refine((p) => {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

export const faultsPatchSchema = z
  .object({
    noBatch: z.boolean(),
    transferDelayMs: z.number().int().min(0),
    transfersNeverComplete: z.boolean(),
    transferConcurrency: z.number().int().min(0),
    transferServiceMs: z.number().int().min(0),
    noEligibleTarget: z.boolean(),
    replicaDown: z.array(
      z
        .object({
          node: z.string(),
          prgs: z.array(z.string()).optional(),
          state: z.enum(['down', 'lagging']).optional(),
        })
        .strict(),
    ),
    neverReady: nodeList,
    slowReady: z.record(z.string(), z.number().int().min(0)),
    cpCacheStale: nodeList,
    lbNeverHealthy: nodeList,
    lbError: z.boolean(),
    cpUnavailable: z.boolean(),
    cpUnhealthy: z.boolean(),
    cpReadyzFails: z.boolean(),
    cpFlakyRatio: z.number().min(0).max(1),
    cpMalformed: z
      .object({
        path: z.string(),
        field: z.string().optional(),
        mode: z.enum(['wrong_type', 'remove', 'set']).optional(),
        value: z.unknown().optional(),
      })
      .strict()
      .nullable(),
    restartNoop: boolOrNodes,
    restartFail: boolOrNodes,
    restartHang: boolOrNodes,
    strictFallback: z.number().int().min(0),
    leaseHeldBy: z.string().nullable(),
    hostileNodeId: z.union([z.boolean(), z.string()]),
    cursorLoop: z.boolean(),
    hugeBodyBytes: z.number().int().min(0),
    placementViolation: z.boolean(),
    sessionDecay: z.number().min(0).max(1),
    electionDelayMs: z.number().int().min(0),
    park: z
      .object({
        system: z.enum(['cp', 'node', 'sim']),
        method: z.string().optional(),
        path: z.string().optional(),
        pattern: regexPattern.optional(),
        node: z.string().optional(),
      })
      .strict()
      .nullable(),
    storeLatencyMs: z.number().int().min(0).max(10_000),
    dropPublish: nodeList,
    acceptWhileDraining: nodeList,
    holdConnect: nodeList,
    connectAnswerMs: z.number().int().min(0).max(600_000),
    cpDropAnswer: z
      .object({
        method: z.string().optional(),
        path: z.string().optional(),
        pattern: regexPattern.optional(),
        times: z.number().int().min(1).optional(),
      })
      .strict()
      .nullable(),
  })
  .partial()
  .strict();

export type FaultsPatch = z.infer<typeof faultsPatchSchema>;

/** Validates a partial fault update; throws an Error naming the bad key. */
export function parseFaultsPatch(input: unknown): Partial<Faults> {
  const r = faultsPatchSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue ? issue.path.join('.') || '(root)' : '(root)';
    throw new Error(`invalid fault ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return r.data as Partial<Faults>;
}

const LIST_KEYS = new Set(['neverReady', 'lbNeverHealthy', 'cpCacheStale', 'restartNoop', 'restartFail', 'restartHang', 'dropPublish', 'acceptWhileDraining', 'holdConnect']);

/**
 * Parses CLI `key=value` pairs. Values are JSON when they parse as JSON, else strings;
 * list knobs also accept `a,b,c`. A bare `key` means `key=true`.
 */
export function parseFaultArgs(args: readonly string[]): Partial<Faults> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    const raw = eq < 0 ? 'true' : arg.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = LIST_KEYS.has(key) ? raw.split(',').filter((s) => s !== '') : raw;
    }
    if (LIST_KEYS.has(key) && typeof value === 'string') value = [value];
    out[key] = value;
  }
  return parseFaultsPatch(out);
}

/** Whether a `boolean | string[]` knob applies to `node`. */
export function appliesTo(knob: boolean | string[], node: string): boolean {
  return Array.isArray(knob) ? knob.includes(node) : knob;
}
