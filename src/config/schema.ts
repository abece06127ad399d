import * as z from 'zod';
import { parseDuration } from './duration.js';
import { unknownPlaceholders } from '../util/argv-text.js';

/** Node and PRG ids, as the contract fixes them. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const idSchema = z.string().regex(ID_PATTERN, { message: 'must match ^[a-z0-9][a-z0-9._-]{0,62}$' });

/** The longest duration Node's timers honour (2^31−1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * A duration key. Every one is at most {@link MAX_DURATION_MS}; one that bounds a wait or a
 * command (`positive`) must be more than 0 (a 0 bound fails mid-run, after the first change),
 * while `0s` stays allowed where it means "do not wait" (`quiesce.grace`, `timeouts.recovery`).
 */
function durationKey(o: { positive: boolean }) {
  return z.string({ message: 'expected a duration string such as 500ms, 30s or 5m' }).transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (use e.g. 500ms, 30s, 5m)` });
      return z.NEVER;
    }
    const problem = durationProblem(ms, o.positive);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `"${s}" ${problem}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** What is wrong with a duration of `ms` (undefined: nothing); `--pause` shares it. */
export function durationProblem(ms: number, positive: boolean): string | undefined {
  if (ms > MAX_DURATION_MS) return `is longer than 24 days (2^31−1 ms, the longest timer Node can set: a longer one would fire at once)`;
  if (positive && ms <= 0) return 'must be more than 0: it bounds a wait or a command';
  return undefined;
}

/** A duration where 0 means "do not wait". */
const duration = durationKey({ positive: false });
/** A duration that bounds a wait or a command. */
const bound = durationKey({ positive: true });

const ratio = z.number().min(0).max(1);
const url = z
  .string()
  .refine((s) => /^https?:\/\/[^/]/.test(s) && URL.canParse(s), { message: 'must be an http:// or https:// URL' })
  .refine((s) => !URL.canParse(s) || (new URL(s).username === '' && new URL(s).password === ''), {
    message: 'must not carry credentials (user:password@); use token_env or token_file',
  });

/** TLS and bearer-token settings; each system has its own, nothing is inherited. */
const access = {
  token_env: z.string().min(1).optional(),
  token_file: z.string().min(1).optional(),
  ca_file: z.string().min(1).optional(),
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  insecure_skip_verify: z.boolean().optional(),
};
export type AccessConfig = { [K in keyof typeof access]?: z.infer<(typeof access)[K]> };

/** `host:port` (a bracketed IPv6 host too) of an MQTT listener. */
const hostPort = z.string().refine((s) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/.test(s) && Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, {
  message: 'must be host:port (e.g. mqtt.internal:8883)',
});

/**
 * The MQTT canary (issue 12): off when absent. One CONNECT/SUBSCRIBE/PUBLISH/receive
 * round trip through `front_door` before the first change and after each readmit, and
 * one directly to the node (its `mqtt_endpoint`).
 */
const canary = z
  .strictObject({
    front_door: hostPort,
    tls: z
      .strictObject({
        ca_file: z.string().min(1).optional(),
        cert_file: z.string().min(1).optional(),
        key_file: z.string().min(1).optional(),
        insecure_skip_verify: z.boolean().optional(),
      })
      .optional(),
    username_env: z.string().min(1).optional(),
    password_env: z.string().min(1).optional(),
    password_file: z.string().min(1).optional(),
    topic_prefix: z
      .string()
      .min(1)
      .refine((s) => !/[#+]/.test(s) && !s.includes(String.fromCharCode(0)) && !s.endsWith('/'), { message: 'must be a topic without wildcards (+, #) or a trailing /' })
      .default('$quantum-roll/canary'),
    timeout: bound.default(5_000),
    protocol: z.union([z.literal(5), z.literal(4)], { message: 'must be 5 (MQTT 5) or 4 (MQTT 3.1.1)' }).default(5),
    /** While a node is out: a direct CONNECT must be refused (the drain is enforced by the listener). */
    check_drain: z.boolean().default(true),
  })
  .superRefine((c, ctx) => {
    if (c.password_env !== undefined && c.password_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'set password_env or password_file, not both' });
    }
    if ((c.tls?.cert_file === undefined) !== (c.tls?.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', c.tls?.cert_file ? 'key_file' : 'cert_file'], message: 'cert_file and key_file go together (mTLS)' });
    }
  });
export type CanaryConfig = z.infer<typeof canary>;

/** The placeholders `restart.command` may use: substituted by steps/restart-command.ts. */
export const RESTART_PLACEHOLDERS = ['node', 'member', 'admin_url'] as const;
/** The placeholders the exec adapter's `lb.drain`, `lb.enable`, `lb.status` may use: substituted by adapters/lb/exec.ts. */
export const LB_EXEC_PLACEHOLDERS = ['node', 'member'] as const;

/**
 * An argv of the operator's (no shell): not empty, a program in its first element, and
 * every `{placeholder}` one of `known` — a typo (`{nodeid}`) is found when the config is
 * loaded, not when the command is about to run on a drained node.
 */
function argvWith(key: string, known: readonly string[]) {
  return z
    .array(z.string())
    .min(1, { message: 'must be a non-empty argv array' })
    .superRefine((argv, ctx) => {
      if (argv[0] === '') ctx.addIssue({ code: 'custom', path: [0], message: 'the program (the first element) is empty' });
      for (const [i, arg] of argv.entries()) {
        for (const name of unknownPlaceholders(arg, known)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `unknown placeholder {${name}} in ${JSON.stringify(arg)}; ${key} knows ${known.map((k) => `{${k}}`).join(' ')}`,
          });
        }
      }
    });
}
/**
 * `quiesce.disconnect`: after the grace, the node's remaining clients are evicted with an
 * MQTT 5 DISCONNECT, paced by what the rest of the cluster re-accepts (issue 19): a small
 * cohort first, then the rest at up to `rate_per_s` (the ceiling), slower while evicted
 * clients are slow to come back; the restart waits until the cluster has re-accepted them.
 */
const cohort = z.strictObject({
  /** share of the node's sessions evicted first */
  share: z.number().gt(0, { message: 'must be > 0 (use cohort: false to evict without a cohort)' }).max(1).default(0.05),
  /** ...but at least this many */
  min: z.number().int().min(1).max(10_000_000).default(5),
  /** how long the cluster has to re-accept the cohort before the run stops */
  timeout: bound.default(10_000),
});
/** `cohort: false` turns it off; anything else is the cohort's settings (each bad one named by its key). */
const cohortOrOff = z
  .unknown()
  .optional()
  .transform((v, ctx): false | z.infer<typeof cohort> => {
    if (v === false) return false;
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) {
      ctx.addIssue({ code: 'custom', message: 'must be false or {share, min, timeout}' });
      return z.NEVER;
    }
    const r = cohort.safeParse(v ?? {});
    if (r.success) return r.data;
    for (const i of r.error.issues) {
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) ctx.addIssue({ code: 'custom', message: 'unknown key (see the configuration section of the contract)', path: [...i.path, k] });
      } else ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
    }
    return z.NEVER;
  });
const disconnect = z
  .strictObject({
    reason_code: z.union([z.literal(139), z.literal(137), z.literal(156), z.literal(157)], {
      error: (iss) =>
        iss.input === undefined
          ? 'required: the MQTT 5 DISCONNECT code to evict with, 139, 137, 156 or 157 (156 "use another server" with server_reference)'
          : 'must be an MQTT 5 DISCONNECT code: 139, 137, 156 or 157 (136 is a CONNACK code)',
    }),
    /** the ceiling: the eviction never goes faster */
    rate_per_s: z.number().int().min(1).max(100_000).default(200),
    server_reference: hostPort.optional(),
    /** `adaptive`: paced by the clients still to be re-accepted; `fixed`: always at rate_per_s */
    pacing: z.enum(['adaptive', 'fixed'], { message: 'must be adaptive or fixed' }).default('adaptive'),
    /** the slowest the adaptive pace goes (default: a twentieth of rate_per_s) */
    min_rate_per_s: z.number().int().min(1).max(100_000).optional(),
    /** how long an evicted client may take to be re-accepted elsewhere (its retry timer + CONNACK) before the pace slows */
    max_lag: bound.default(2_000),
    cohort: cohortOrOff,
    /** the restart waits until this share of the evicted clients is connected again elsewhere, at most `timeout` */
    absorb: z
      .strictObject({ ratio: ratio.default(0.95), timeout: duration.default(10_000) })
      .default({ ratio: 0.95, timeout: 10_000 }),
  })
  .superRefine((d, ctx) => {
    if (d.min_rate_per_s !== undefined && d.min_rate_per_s > d.rate_per_s) {
      ctx.addIssue({ code: 'custom', path: ['min_rate_per_s'], message: `must be ≤ rate_per_s (${d.rate_per_s})` });
    }
  });
export type DisconnectConfig = z.infer<typeof disconnect>;


export const configSchema = z
  .strictObject({
    control_plane: z.strictObject({ url, ...access, request_timeout: bound.default(10_000) }),
    node_api: z.strictObject({ ...access }).default({}),
    nodes: z
      .record(
        z.string().regex(ID_PATTERN, { message: 'node id must match ^[a-z0-9][a-z0-9._-]{0,62}$' }),
        z.strictObject({
          admin_url: url.optional(),
          lb_member: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { message: 'must be a plain name' }).optional(),
          mqtt_endpoint: hostPort.optional(),
        }),
      )
      .default({}),
    lb: z
      .strictObject({
        adapter: z.enum(['none', 'http', 'haproxy', 'exec']),
        url: url.optional(),
        pool: z.string().min(1).optional(),
        socket: z.string().min(1).optional(),
        backends: z.array(z.string().min(1)).min(1).optional(),
        drain: argvWith('lb.drain', LB_EXEC_PLACEHOLDERS).optional(),
        enable: argvWith('lb.enable', LB_EXEC_PLACEHOLDERS).optional(),
        status: argvWith('lb.status', LB_EXEC_PLACEHOLDERS).optional(),
        timeout: bound.optional(),
        ...access,
      })
      .superRefine((lb, ctx) => {
        const need = (key: keyof typeof lb) => {
          if (lb[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `required with adapter ${lb.adapter}` });
        };
        if (lb.adapter === 'http') (['url', 'pool'] as const).forEach(need);
        if (lb.adapter === 'haproxy') (['socket', 'backends'] as const).forEach(need);
        if (lb.adapter === 'exec') (['drain', 'enable', 'status'] as const).forEach(need);
      })
      .default({ adapter: 'none' }),
    restart: z.strictObject({ command: argvWith('restart.command', RESTART_PLACEHOLDERS), timeout: bound.default(120_000) }),
    quiesce: z
      .strictObject({
        grace: duration.default(30_000),
        target_sessions: z.number().int().min(0).default(0),
        disconnect: disconnect.optional(),
      })
      .default({ grace: 30_000, target_sessions: 0 }),
    checks: z
      .strictObject({
        min_prgs_ready_ratio: ratio.default(0.99),
        session_recovery_ratio: ratio.default(0.9),
      })
      .default({ min_prgs_ready_ratio: 0.99, session_recovery_ratio: 0.9 }),
    timeouts: z
      .strictObject({
        leader_transfer: bound.default(60_000),
        ready: bound.default(300_000),
        ready_max: bound.optional(),
        lb: bound.default(30_000),
        recovery: duration.default(0),
      })
      .default({ leader_transfer: 60_000, ready: 300_000, lb: 30_000, recovery: 0 }),
    leader_transfer: z
      .strictObject({
        concurrency: z.number().int().min(1).max(1000).default(64),
        batch_max_parallel: z.number().int().min(1).max(10_000).default(64),
        /** After a node's postcheck, move back leadership of the PRGs it led before its drain (invariant 10). */
        restore: z.boolean().default(true),
      })
      .default({ concurrency: 64, batch_max_parallel: 64, restore: true }),
    lease: z.strictObject({ ttl: bound.default(30_000) }).default({ ttl: 30_000 }),
    // Every run's ndjson log is <state dir>/runs/<run id>.ndjson; the newest `keep` are kept.
    logs: z.strictObject({ keep: z.number().int().min(1).max(100_000).default(50) }).default({ keep: 50 }),
    canary: canary.optional(),
  });

export type Config = z.infer<typeof configSchema>;
export type LbConfig = Config['lb'];
