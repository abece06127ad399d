/** What the journal keeps of one node: its status, the step it reached, and the facts a resume needs. */
import * as z from 'zod';

/**
 * A step's name (`Step.name`; the runbook list in src/steps/index.ts is where they are).
 * The journal accepts any name, so a journal written before a step was added or
 * renamed stays readable (the `undrain` command once journalled its step as `readmit`).
 */
export type StepName = string;

const stepRecord = z.object({
  started_at: z.string(),
  ended_at: z.string().nullable(),
  outcome: z.enum(['running', 'done', 'failed', 'skipped']),
  summary: z.string().optional(),
  duration_ms: z.number().optional(),
});

export const nodeRecord = z.object({
  status: z.enum(['pending', 'running', 'done', 'failed', 'skipped', 'interrupted']),
  /** The step running or last reached. */
  step: z.string().nullable(),
  steps: z.record(z.string(), stepRecord),
  boot_id_before: z.string().nullable(),
  boot_id_after: z.string().nullable(),
  /** Cluster-wide active sessions just before the drain (postcheck recovery baseline). */
  sessions_before: z.number().nullable(),
  /** When the LB member left service (quiesce grace counts from here). */
  lb_out_at: z.string().nullable(),
  /** The restart command's pid and start time: a resumed run waits for an orphaned command instead of running it twice. */
  restart_pid: z.number().int().nullable().default(null),
  /** Who that pid was (kernel boot id and start time, util/proc-identity.ts): a resume signals it only if it still is. */
  restart_pid_identity: z.string().nullable().default(null),
  restart_started_at: z.string().nullable().default(null),
  /** The PRGs the node led before its leader-transfer: leadership of those is moved back after its postcheck. */
  leaders_before: z.array(z.string()).nullable().default(null),
  error: z.string().nullable(),
});
export type NodeRecord = z.infer<typeof nodeRecord>;

export function emptyNodeRecord(): NodeRecord {
  return {
    status: 'pending',
    step: null,
    steps: {},
    boot_id_before: null,
    boot_id_after: null,
    sessions_before: null,
    lb_out_at: null,
    restart_pid: null,
    restart_pid_identity: null,
    restart_started_at: null,
    leaders_before: null,
    error: null,
  };
}
