// The plain-HTTP control API `/_sim/*` (not part of the contract): node heartbeats,
// fault injection, parked calls, recorded calls/events, stats, node restarts, shutdown.
import { isHeartbeat } from './heartbeat.js';
import { error, isObject, json, parkingOf, segments, type Ctx, type Reply } from './http-kit.js';
import type { HeartbeatPayload, HeartbeatReply } from './node-runtime.js';
import type { Faults, RecordedCall, SimEvent, SimStats } from './types.js';

export interface SimControl {
  heartbeat(hb: HeartbeatPayload): HeartbeatReply | null;
  faults(): Faults;
  setFaults(patch: unknown): Faults;
  calls(): RecordedCall[];
  events(): SimEvent[];
  stats(): SimStats;
  info(): Record<string, unknown>;
  hasNode(id: string): boolean;
  restartNode(id: string): Promise<Record<string, unknown>>;
  stopNode(id: string): Promise<void>;
  recordEvent(event: string, fields: Record<string, unknown>): void;
  requestShutdown(): void;
}

export async function handleControl(sim: SimControl, ctx: Ctx): Promise<Reply> {
  const seg = segments(ctx.path);
  if (seg[0] !== '_sim') return error(404, 'not_found', `no route ${ctx.path}`);
  const route = seg.slice(1).join('/');
  const m = ctx.method;
  switch (route) {
    case 'heartbeat': {
      if (!isHeartbeat(ctx.body)) return error(400, 'invalid_body', 'not a heartbeat');
      const reply = sim.heartbeat(ctx.body);
      return reply ? json(200, reply) : error(409, 'stale_boot', 'heartbeat from an unknown node or an old boot');
    }
    case 'faults':
      if (m === 'GET') return json(200, sim.faults());
      if (m !== 'POST') break;
      try {
        const faults = sim.setFaults(ctx.body ?? {});
        parkingOf(faults).sweep();
        return json(200, faults);
      } catch (e) {
        return error(400, 'invalid_fault', e instanceof Error ? e.message : String(e));
      }
    case 'parked':
      return m === 'GET' ? json(200, parkingOf(sim.faults()).parked()) : error(405, 'method_not_allowed', 'GET only');
    case 'park': {
      // A node process asks before it handles a call; the answer waits while the call is parked.
      const b = ctx.body;
      if (m !== 'POST' || !isObject(b) || typeof b.node !== 'string' || typeof b.method !== 'string' || typeof b.path !== 'string') {
        return error(400, 'invalid_body', 'expected {"node", "method", "path", "t"}');
      }
      await parkingOf(sim.faults()).gate('node', b.node, b.method, b.path, typeof b.t === 'number' ? b.t : ctx.t, ctx.gone);
      return json(200, { go: true });
    }
    case 'calls':
      return json(200, sim.calls());
    case 'events':
      if (m === 'GET') return json(200, sim.events());
      if (m === 'POST' && isObject(ctx.body) && typeof ctx.body.event === 'string') {
        const { event, ...fields } = ctx.body;
        sim.recordEvent(event, fields);
        return json(200, { ok: true });
      }
      return error(400, 'invalid_body', 'expected {"event": "...", ...}');
    case 'stats':
      return json(200, sim.stats());
    case 'info':
      return json(200, sim.info());
    case 'stop':
      if (m !== 'POST') break;
      setImmediate(() => sim.requestShutdown());
      return json(200, { stopping: true });
    default:
      break;
  }
  if (seg[1] === 'nodes' && seg.length === 4 && m === 'POST') {
    const id = seg[2] ?? '';
    await parkingOf(sim.faults()).gate('sim', id, m, ctx.url, ctx.t, ctx.gone);
    if (ctx.gone()) return { status: 499, dropped: true };
    if (!sim.hasNode(id)) return error(404, 'unknown_node', `no node ${id}`);
    if (seg[3] === 'restart') return json(200, await sim.restartNode(id));
    if (seg[3] === 'stop') {
      await sim.stopNode(id);
      return json(200, { node: id, stopped: true });
    }
  }
  return error(404, 'not_found', `no route ${m} ${ctx.path}`);
}
