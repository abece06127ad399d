// JSON renderings of CP objects (cluster state, PRG items, PRG listings with cursors).
import type { ClusterModel } from './cluster-model.js';
import { error, json, type Ctx, type Reply } from './http-kit.js';

export function cpObject(model: ClusterModel): Record<string, unknown> {
  const unhealthy = model.faults().cpUnhealthy;
  return {
    leader: unhealthy ? null : 'cp-1',
    term: 7,
    healthy: !unhealthy,
    members: [
      { id: 'cp-1', healthy: true },
      { id: 'cp-2', healthy: !unhealthy },
      { id: 'cp-3', healthy: !unhealthy },
    ],
  };
}

const STALE_HEARTBEAT_MS = 3000;

export function clusterState(model: ClusterModel): Record<string, unknown> {
  const now = Date.now();
  const hostile = model.faults().hostileNodeId;
  const nodes = model.nodes.map((n, i) => {
    const age = n.lastHeartbeat ? now - n.lastHeartbeat : 0;
    let state = 'down';
    if (n.processUp) state = age > STALE_HEARTBEAT_MS ? 'unknown' : n.draining ? 'draining' : 'up';
    let id = n.id;
    if (i === 0 && hostile !== false) id = hostile === true ? `${n.id};reboot` : hostile;
    return {
      id,
      admin_url: n.adminUrl,
      mqtt_endpoint: `127.0.0.1:${n.mqttPort}`,
      rack: n.rack,
      zone: 'z1',
      state,
      last_heartbeat_ms: age,
    };
  });
  return {
    cp: cpObject(model),
    routing_epoch: model.routingEpoch,
    nodes,
    prgs: { total: model.topo.prgCount, ready: model.readyCount(), strict_fallback: model.strictCount() },
    placement: { policy: model.topo.policy, violations: model.violations() },
  };
}

export function prgItem(model: ClusterModel, p: number): Record<string, unknown> {
  const topo = model.topo;
  const leader = topo.leader[p] ?? -1;
  const commit = model.commitIndex(p);
  const replicas: Array<Record<string, unknown>> = [];
  for (let s = 0; s < topo.rf; s++) {
    const n = topo.replica(p, s);
    const state = model.replicaState(p, n);
    let match = commit;
    if (state === 'lagging') match = commit - 250 - (p % 100);
    else if (state === 'replaying') match = Math.floor(commit * Math.max(0, model.nodes[n]?.replayProgress ?? 0));
    else if (state === 'down') match = commit - 1000;
    replicas.push({ node: topo.nodeIds[n], role: n === leader ? 'leader' : 'follower', state, match_index: Math.max(0, match) });
  }
  return {
    id: topo.prgId(p),
    tenant: topo.tenant(p),
    leader: leader >= 0 ? topo.nodeIds[leader] : null,
    strict_fallback: model.isStrict(p),
    commit_index: commit,
    replicas,
  };
}

function encodeCursor(pos: number): string {
  return Buffer.from(`c1:${pos}`).toString('base64url');
}

function decodeCursor(c: string): number | null {
  const m = /^c1:(\d+)$/.exec(Buffer.from(c, 'base64url').toString('utf8'));
  return m?.[1] ? Number(m[1]) : null;
}

/** `GET /v1/prgs`: filters by replica node and/or leader, paginated by an opaque cursor. */
export function listPrgs(model: ClusterModel, ctx: Ctx): Reply {
  const topo = model.topo;
  const q = ctx.query;
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? 500 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return error(400, 'invalid_limit', 'limit must be an integer in 1..1000');
  let start = 0;
  const cursor = q.get('cursor');
  if (cursor !== null && cursor !== '') {
    const pos = decodeCursor(cursor);
    if (pos === null) return error(400, 'invalid_cursor', 'unknown cursor');
    start = pos;
  }
  const nodeId = q.get('node');
  const leaderId = q.get('leader');
  const nodeIdx = nodeId === null ? undefined : (topo.nodeIndex.get(nodeId) ?? -1);
  const leaderIdx = leaderId === null ? undefined : (topo.nodeIndex.get(leaderId) ?? -1);
  // Candidate list: a node's replica index when filtering, else every PRG in order.
  let list: number[] | null = null;
  if (nodeIdx !== undefined) list = nodeIdx >= 0 ? (topo.nodePrgs[nodeIdx] ?? []) : [];
  else if (leaderIdx !== undefined) list = leaderIdx >= 0 ? (topo.nodePrgs[leaderIdx] ?? []) : [];
  const size = list ? list.length : topo.prgCount;
  const matches = (p: number): boolean => leaderIdx === undefined || topo.leader[p] === leaderIdx;
  const items: Array<Record<string, unknown>> = [];
  let pos = start;
  for (; pos < size && items.length < limit; pos++) {
    const p = list ? (list[pos] ?? 0) : pos;
    if (matches(p)) items.push(prgItem(model, p));
  }
  let more = false;
  for (let k = pos; k < size; k++) {
    if (matches(list ? (list[k] ?? 0) : k)) {
      more = true;
      break;
    }
  }
  let next: string | null = more ? encodeCursor(pos) : null;
  if (model.faults().cursorLoop) next = encodeCursor(0);
  return json(200, { items, next_cursor: next });
}
