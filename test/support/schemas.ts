// Zod schemas written from /work/shared/contract/apis.md, used to check the simulator's
// answers. Unknown fields are allowed (servers may add fields), known ones are strict.
import * as z from 'zod';

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/);
const ts = z.string().datetime();

export const errorBody = z.object({ error: z.object({ code: z.string().regex(/^[a-z0-9_]+$/), message: z.string() }) });

export const listener = z.object({
  name: z.string(),
  port: z.number().int(),
  accepting: z.boolean(),
  active_sessions: z.number().int().min(0),
  max_sessions: z.number().int().nullable().optional(),
});

export const readyz = z.object({
  ready: z.boolean(),
  node_id: id,
  reasons: z.array(z.enum(['draining', 'cp_cache_stale', 'prgs_replaying', 'prgs_strict_fallback', 'starting'])),
  draining: z.boolean(),
  cp_cache: z.object({ fresh: z.boolean(), age_ms: z.number().int().min(0), routing_epoch: z.number().int() }),
  prgs: z.object({ total: z.number().int(), ready: z.number().int(), replaying: z.number().int(), strict_fallback: z.number().int() }),
  replay: z.object({ progress: z.number().min(0).max(1) }),
  listeners: z.array(listener),
});

export const nodeInfo = z.object({ node_id: id, version: z.string(), boot_id: z.string().min(1), started_at: ts });

export const drainStatus = z.object({
  draining: z.boolean(),
  since: ts.nullable(),
  reason: z.string().nullable(),
  initiator: z.string().nullable(),
  active_sessions: z.number().int().min(0),
});

export const cpObject = z.object({
  leader: z.string().nullable(),
  term: z.number().int(),
  healthy: z.boolean(),
  members: z.array(z.object({ id: z.string(), healthy: z.boolean() })),
});

export const clusterState = z.object({
  cp: cpObject,
  routing_epoch: z.number().int(),
  nodes: z.array(
    z.object({
      id,
      admin_url: z.string().url(),
      mqtt_endpoint: z.string(),
      rack: z.string(),
      zone: z.string(),
      state: z.enum(['up', 'draining', 'down', 'unknown']),
      last_heartbeat_ms: z.number().int().min(0),
    }),
  ),
  prgs: z.object({ total: z.number().int(), ready: z.number().int(), strict_fallback: z.number().int() }),
  placement: z.object({ policy: z.enum(['one_replica_per_node', 'one_replica_per_rack']), violations: z.number().int() }),
});

export const replica = z.object({
  node: id,
  role: z.enum(['leader', 'follower']),
  state: z.enum(['healthy', 'lagging', 'replaying', 'down']),
  match_index: z.number().int(),
});

export const prg = z.object({
  id,
  tenant: z.string(),
  leader: id.nullable(),
  strict_fallback: z.boolean(),
  commit_index: z.number().int(),
  replicas: z.array(replica),
});

export const prgList = z.object({ items: z.array(prg), next_cursor: z.string().nullable() });

export const transfer = z.object({ prg_id: id, from: id, to: id });

export const batch = z.object({
  id: z.string(),
  state: z.enum(['running', 'done', 'failed']),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.array(z.object({ prg_id: id, error: z.object({ code: z.string(), message: z.string() }) })),
});

export const features = z.object({ batch_leader_transfer: z.boolean() });

export const leaseCreated = z.object({ name: z.string(), holder: z.string(), token: z.string().min(1), expires_at: ts });
export const leaseInfo = z.object({ name: z.string(), holder: z.string(), expires_at: ts });
export const leaseHeld = errorBody.extend({ holder: z.string(), expires_at: ts });

export const lbMember = z.object({
  member: z.string(),
  address: z.string(),
  admin_state: z.enum(['enabled', 'draining', 'disabled']),
  health: z.enum(['up', 'down', 'unknown']),
  active_connections: z.number().int().min(0),
});
