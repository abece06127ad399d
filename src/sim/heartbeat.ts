// Answers node heartbeats: updates the cluster model and the session balancer, and hands
// the node what it cannot know by itself (PRG counts, session transfers, its faults).
import type { ClusterModel } from './cluster-model.js';
import type { HeartbeatPayload, HeartbeatReply } from './node-runtime.js';
import type { SessionBalancer } from './sessions.js';

export function answerHeartbeat(
  model: ClusterModel,
  balancer: SessionBalancer,
  hb: HeartbeatPayload,
  serverReference: (idx: number) => string | null = () => null,
): HeartbeatReply | null {
  const idx = model.topo.nodeIndex.get(hb.node_id);
  if (idx === undefined) return null;
  const accepted = model.onHeartbeat(idx, {
    bootId: hb.boot_id,
    replayProgress: hb.replay_progress,
    draining: hb.draining,
    activeSessions: hb.active_sessions,
  });
  if (!accepted) return null;
  const moves = balancer.onReport(idx, {
    simSessions: hb.sim_sessions,
    shedTotal: hb.shed_total,
    movedOutTotal: hb.moved_out_total,
  });
  const f = model.faults();
  return {
    routing_epoch: model.routingEpoch,
    prg_total: model.topo.nodePrgs[idx]?.length ?? 0,
    strict_fallback: model.strictLedBy(idx),
    add_sessions: moves.add,
    remove_sessions: moves.remove,
    never_ready: f.neverReady.includes(hb.node_id),
    replay_ms: f.slowReady[hb.node_id] ?? null,
    session_decay: f.sessionDecay,
    cp_cache_stale: f.cpCacheStale.includes(hb.node_id),
    server_reference: serverReference(idx),
    store_latency_ms: f.storeLatencyMs,
    drop_publish: f.dropPublish.includes(hb.node_id),
    accept_while_draining: f.acceptWhileDraining.includes(hb.node_id),
    hold_connect: f.holdConnect.includes(hb.node_id),
    connect_answer_ms: f.connectAnswerMs,
  };
}

export function isHeartbeat(v: unknown): v is HeartbeatPayload {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.node_id === 'string' &&
    typeof o.boot_id === 'string' &&
    typeof o.replay_progress === 'number' &&
    typeof o.draining === 'boolean' &&
    typeof o.active_sessions === 'number' &&
    typeof o.sim_sessions === 'number' &&
    typeof o.shed_total === 'number' &&
    typeof o.moved_out_total === 'number'
  );
}
