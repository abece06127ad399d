/**
 * zod schemas for every response of apis.md. Objects are loose (unknown fields are
 * ignored), known fields are checked for type and range, ids for the contract's pattern.
 */
import { z } from 'zod';
import { ID_PATTERN, idSchema } from '../config/schema.js';

const count = z.number().int().min(0);
const ratio = z.number().min(0).max(1);
const timestamp = z.string().min(1);
/** A node's admin URL as the CP reports it: http(s) only, no credentials, no spaces or control characters. */
const adminUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/@]+(\/\S*)?$/, { message: 'must be an http:// or https:// URL without credentials or spaces' })
  .refine((s) => URL.canParse(s), { message: 'must be a valid URL' });
/** `ready` and `strict_fallback` are parts of `total`: more than the whole is absurd. */
function partsOfTotal<T extends { total: number; ready: number; strict_fallback: number }>(p: T, ctx: z.RefinementCtx): void {
  if (p.ready > p.total) ctx.addIssue({ code: 'custom', path: ['ready'], message: `${p.ready} ready of ${p.total} total (ratio > 1)` });
  if (p.strict_fallback > p.total) {
    ctx.addIssue({ code: 'custom', path: ['strict_fallback'], message: `${p.strict_fallback} in strict fallback of ${p.total} total` });
  }
}

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

// --- runtime -------------------------------------------------------------

export const listenerSchema = z.object({
  name: z.string(),
  port: z.number().int().min(0).max(65535),
  accepting: z.boolean(),
  active_sessions: count,
  max_sessions: count.nullable().optional(),
});
export type Listener = z.infer<typeof listenerSchema>;

export const READINESS_REASONS = ['draining', 'cp_cache_stale', 'prgs_replaying', 'prgs_strict_fallback', 'starting'] as const;

export const readinessSchema = z.object({
  ready: z.boolean(),
  node_id: idSchema,
  reasons: z.array(z.enum(READINESS_REASONS)),
  draining: z.boolean(),
  cp_cache: z.object({ fresh: z.boolean(), age_ms: count, routing_epoch: count }),
  prgs: z.object({ total: count, ready: count, replaying: count, strict_fallback: count }).superRefine(partsOfTotal),
  replay: z.object({ progress: ratio }),
  listeners: z.array(listenerSchema),
});
export type Readiness = z.infer<typeof readinessSchema>;

export const nodeInfoSchema = z.object({
  node_id: idSchema,
  version: z.string(),
  boot_id: z.string().min(1),
  started_at: timestamp,
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

export const drainStatusSchema = z.object({
  draining: z.boolean(),
  since: timestamp.nullable(),
  reason: z.string().nullable(),
  initiator: z.string().nullable(),
  active_sessions: count,
});
export type DrainStatus = z.infer<typeof drainStatusSchema>;

export const disconnectAnswerSchema = z.object({ requested: count });

/** `GET /v1/sessions/disconnect`: the current or last request (all null/0 before any). */
export const disconnectProgressSchema = z.object({
  in_progress: z.boolean(),
  requested: count,
  disconnected: count,
  rate_per_s: z.number().int().min(1).nullable(),
  reason_code: z.number().int().nullable(),
  started_at: timestamp.nullable(),
});
export type DisconnectProgress = z.infer<typeof disconnectProgressSchema>;

// --- control plane ----------------------------------------------------------

export const cpStatusSchema = z.object({
  leader: z.string().nullable(),
  term: count,
  healthy: z.boolean(),
  members: z.array(z.object({ id: z.string(), healthy: z.boolean() })),
});
export type CpStatus = z.infer<typeof cpStatusSchema>;

export const clusterNodeSchema = z.object({
  id: idSchema,
  admin_url: adminUrl,
  mqtt_endpoint: z.string(),
  rack: z.string(),
  zone: z.string(),
  state: z.enum(['up', 'draining', 'down', 'unknown']),
  last_heartbeat_ms: count,
});
export type ClusterNode = z.infer<typeof clusterNodeSchema>;

export const clusterStateSchema = z.object({
  cp: cpStatusSchema,
  routing_epoch: count,
  nodes: z.array(clusterNodeSchema),
  prgs: z.object({ total: count, ready: count, strict_fallback: count }).superRefine(partsOfTotal),
  placement: z.object({
    policy: z.enum(['one_replica_per_node', 'one_replica_per_rack']),
    violations: count,
  }),
});
export type ClusterState = z.infer<typeof clusterStateSchema>;

export const replicaSchema = z.object({
  node: idSchema,
  role: z.string(),
  state: z.enum(['healthy', 'lagging', 'replaying', 'down']),
  match_index: count,
});
/** A replica as the wire carries it (`match_index` included). */
export type ReplicaWire = z.infer<typeof replicaSchema>;
export type ReplicaState = ReplicaWire['state'];
/**
 * A replica as the tool keeps it: what quorum, placement and leadership read. Every
 * field of the wire is still checked; `match_index` is not kept. Equal replicas are one
 * shared, frozen object (see `slimPrg`).
 */
export interface Replica {
  readonly node: string;
  readonly role: string;
  readonly state: ReplicaState;
}

export const prgSchema = z.object({
  id: idSchema,
  tenant: z.string(),
  leader: idSchema.nullable(),
  strict_fallback: z.boolean(),
  commit_index: count,
  replicas: z.array(replicaSchema),
});
/** A PRG as the wire carries it. */
export type PrgWire = z.infer<typeof prgSchema>;
/**
 * A PRG as the tool keeps it, one per PRG of the cluster (100,000 on a big one): what the
 * plan, quorum, placement and leadership read. `tenant` and `commit_index` are checked at
 * the boundary, as every field is, and not kept.
 */
export interface Prg {
  readonly id: string;
  readonly leader: string | null;
  readonly strict_fallback: boolean;
  readonly replicas: readonly Replica[];
}

/** A page of `GET /v1/prgs`, as zod checks it (the definition; see `prgPageSchema`). */
export const prgPageZodSchema = z.object({
  items: z.array(prgSchema),
  next_cursor: z.string().nullable(),
});
/** A page as the tool keeps it: its PRGs slim (`slimPrg`). */
export interface PrgPage {
  items: Prg[];
  next_cursor: string | null;
}

/**
 * `prgPageSchema`, the one every listing is checked with: the same verdict and error as
 * `prgPageZodSchema`, ~10× cheaper on the common page, and its PRGs slim. A page that
 * `isCleanPrgPage` accepts is checked without zod (which would build a second object per
 * PRG and per replica, 100,000 × 4 at once on a big cluster); any other page goes
 * through zod, whose first issue (field path and message, e.g. `items.7.replicas.1.state`)
 * is the one reported, exactly as before. Either way the page's PRGs come out as
 * `slimPrg` makes them.
 */
export const prgPageSchema = z.unknown().transform((v, ctx): PrgPage => {
  if (isCleanPrgPage(v)) return slimPage(v);
  const r = prgPageZodSchema.safeParse(v);
  if (r.success) return slimPage(r.data);
  for (const issue of r.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

const PAGE_KEYS = ['items', 'next_cursor'] as const;
const PRG_KEYS = ['id', 'tenant', 'leader', 'strict_fallback', 'commit_index', 'replicas'] as const;
const REPLICA_KEYS = ['node', 'role', 'state', 'match_index'] as const;
const REPLICA_STATES: ReadonlySet<unknown> = new Set(replicaSchema.shape.state.options);

/** Exactly `keys`, in that order, and nothing else: then zod's output (shape order, unknown keys stripped) equals the input. */
function exactKeys(o: object, keys: readonly string[]): boolean {
  let i = 0;
  for (const k in o) {
    if (k !== keys[i]) return false;
    i++;
  }
  return i === keys.length;
}

/**
 * Equal replicas, shared: a cluster has nodes × roles × states distinct replicas (a few
 * thousand) against three per PRG (300,000 on a big cluster). Bounded, in case a CP
 * sends a different role string on every replica: past the bound replicas are made anew.
 */
const replicaPool = new Map<string, Replica[]>();
const REPLICA_POOL_MAX = 65_536;
let pooled = 0;

function sharedReplica(node: string, role: string, state: ReplicaState): Replica {
  // Per node a short list (roles × states: a handful), scanned: no key string to build.
  let list = replicaPool.get(node);
  if (list === undefined) replicaPool.set(node, (list = []));
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    if (r.state === state && r.role === role) return r;
  }
  const r: Replica = Object.freeze({ node, role, state });
  if (pooled < REPLICA_POOL_MAX && list.length < 64) {
    list.push(r);
    pooled++;
  }
  return r;
}

/**
 * The PRG as the tool keeps it: id, leader, strict fallback, and its replicas as shared
 * frozen objects. ≈ 120 bytes a PRG instead of ≈ 450 for the parsed wire object, which
 * is garbage as soon as its page is read.
 */
export function slimPrg(p: PrgWire): Prg {
  const wire = p.replicas;
  const replicas = new Array<Replica>(wire.length);
  for (let i = 0; i < wire.length; i++) {
    const r = wire[i]!;
    replicas[i] = sharedReplica(r.node, r.role, r.state);
  }
  return { id: p.id, leader: p.leader, strict_fallback: p.strict_fallback, replicas };
}

function slimPage(page: { items: PrgWire[]; next_cursor: string | null }): PrgPage {
  const wire = page.items;
  const items = new Array<Prg>(wire.length);
  for (let i = 0; i < wire.length; i++) items[i] = slimPrg(wire[i]!);
  return { items, next_cursor: page.next_cursor };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): boolean => typeof v === 'string' && ID_PATTERN.test(v);
/** Node ids that matched the pattern: the same few thousand come back on every replica of every page. */
const nodeIdsSeen = new Set<string>();
function isNodeId(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  if (nodeIdsSeen.has(v)) return true;
  if (!ID_PATTERN.test(v)) return false;
  if (nodeIdsSeen.size < 65_536) nodeIdsSeen.add(v);
  return true;
}

/**
 * True only for a page that `prgPageZodSchema` accepts unchanged: every known field of the
 * right type and range (ids match the contract's pattern, counts are non-negative safe
 * integers, states are the enum's), no unknown field, keys in the schema's order. It may
 * say false for a valid page (e.g. one with extra fields): zod then decides.
 */
export function isCleanPrgPage(v: unknown): v is z.infer<typeof prgPageZodSchema> {
  if (!isRecord(v) || !exactKeys(v, PAGE_KEYS)) return false;
  const cursor = v.next_cursor;
  if (cursor !== null && typeof cursor !== 'string') return false;
  const items = v.items;
  if (!Array.isArray(items)) return false;
  for (let i = 0; i < items.length; i++) {
    const p: unknown = items[i];
    if (!isRecord(p) || !exactKeys(p, PRG_KEYS)) return false;
    if (!isId(p.id) || typeof p.tenant !== 'string' || (p.leader !== null && !isNodeId(p.leader))) return false;
    if (typeof p.strict_fallback !== 'boolean' || !isCount(p.commit_index)) return false;
    const reps = p.replicas;
    if (!Array.isArray(reps)) return false;
    for (let j = 0; j < reps.length; j++) {
      const r: unknown = reps[j];
      if (!isRecord(r) || !exactKeys(r, REPLICA_KEYS)) return false;
      if (!isNodeId(r.node) || typeof r.role !== 'string' || !REPLICA_STATES.has(r.state) || !isCount(r.match_index)) return false;
    }
  }
  return true;
}

export const leaderTransferSchema = z.object({
  prg_id: idSchema,
  from: idSchema.nullable(),
  to: idSchema,
});
export type LeaderTransfer = z.infer<typeof leaderTransferSchema>;

export const batchTransferSchema = z.object({
  id: z.string().min(1),
  state: z.enum(['running', 'done', 'failed']),
  total: count,
  done: count,
  failed: z.array(z.object({ prg_id: z.string(), error: z.object({ code: z.string(), message: z.string() }) })),
});
export type BatchTransfer = z.infer<typeof batchTransferSchema>;

export const featuresSchema = z.object({ batch_leader_transfer: z.boolean().optional() });

export const leaseSchema = z.object({
  name: z.string(),
  holder: z.string(),
  token: z.string().min(1),
  expires_at: timestamp,
});
export type Lease = z.infer<typeof leaseSchema>;
export const leaseInfoSchema = leaseSchema.omit({ token: true });
export type LeaseInfo = z.infer<typeof leaseInfoSchema>;
export const leaseHeldBodySchema = z.object({ holder: z.string(), expires_at: timestamp.optional() });

// --- LB generic HTTP pool API -------------------------------------------------

export const poolMemberSchema = z.object({
  member: z.string(),
  address: z.string(),
  admin_state: z.enum(['enabled', 'draining', 'disabled']),
  health: z.enum(['up', 'down', 'unknown']),
  active_connections: count,
});
export type PoolMember = z.infer<typeof poolMemberSchema>;
