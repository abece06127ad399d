/**
 * Why a reconnect was slow: each reconnect slower than the client's own retry timer + 1 s
 * is given one cause, with the node, that node's state (the roll step in progress) and the
 * time. Pure: it joins what the load clients recorded (every connection attempt: TCP
 * start, end, outcome, the node a CONNACK named) with what the simulator recorded (each
 * broker's trace of every CONNECT it received — client id, arrival, the stage it waited in
 * and how long — and each node's lifecycle and drain). The join is by client id and time:
 * a client makes one attempt at a time, so the broker lines of that client inside an
 * attempt's interval are that attempt's.
 *
 * Causes (the longest part of the reconnect decides):
 * - `no CONNACK`: an attempt got no CONNACK (client timeout, or the link closed): which
 *   node held it and in which stage (connect-trace.ts), or that no broker ever read it;
 * - `slow CONNACK`: answered, late: which node, which stage (`parse` = the node read it
 *   late: overloaded, or still starting);
 * - `refused`: CONNACK with a failure code, by which node (and why: draining, not ready…);
 * - `routed to a node out of service`: that refusal came through the front door (the LB
 *   sent the client to a node that was draining or not ready);
 * - `closed by a node that went down`: the attempt's link died with its node;
 * - `client backoff`: the client's own waits between attempts dominate;
 * - `unexplained`: nothing recorded accounts for it (the report says so; none is expected).
 */
import type { EventLine, SimRecord } from './record.js';
import type { AttemptRecord, ClientRecord } from './report.js';
import { codeLabel } from './report.js';

export type SlowCause =
  | 'no CONNACK'
  | 'slow CONNACK'
  | 'refused'
  | 'routed to a node out of service'
  | 'closed by a node that went down'
  | 'client backoff'
  | 'unexplained';

export interface SlowReconnect {
  client: string;
  /** When the link was lost (ISO 8601). */
  at: string;
  ms: number;
  cause: SlowCause;
  /** The node the cause points at (null when none can be named). */
  node: string | null;
  /** That node's state then: down, starting, replaying, evicting, draining, up (null without a node or a record). */
  node_state: string | null;
  detail: string;
  attempts: number;
}

export interface SlowReconnects {
  /** The client's own retry timer + 1 s: reconnects slower than this are explained here. */
  threshold_ms: number;
  count: number;
  by_cause: Partial<Record<SlowCause, number>>;
  /** The slowest first, at most `MAX_ITEMS`; `left_off` says how many more. */
  items: SlowReconnect[];
  left_off: number;
  /** False when no simulator record was available (the causes then rest on the clients' side only). */
  sim_record: boolean;
}

export const MAX_ITEMS = 100;
/** Clock slack between processes when placing a broker line in an attempt (ms). */
const SLACK_MS = 50;

const iso = (ms: number): string => new Date(ms).toISOString();

/** A node's state at time t from the simulator's record. */
export function nodeState(rec: SimRecord | null, node: string, t: number): string | null {
  if (!rec) return null;
  let down = false;
  let restarting = false;
  let replaying = false;
  let evicting = false;
  for (const e of rec.lifecycle) {
    if (e.t > t) break;
    if (e.node !== node) continue;
    if (e.event === 'restart') restarting = true;
    else if (e.event === 'stop' || e.event === 'process_down') down = true;
    else if (e.event === 'process_up') {
      down = false;
      replaying = restarting;
      restarting = false;
    } else if (e.event === 'replay_done') replaying = false;
    else if (e.event === 'disconnect_request') evicting = Number(e.requested ?? 0) > 0;
    else if (e.event === 'disconnect_end') evicting = false;
  }
  const draining = rec.drainWindows.some((w) => w.node === node && w.from <= t && t <= w.to);
  if (down) return restarting ? 'down (restarting)' : 'down';
  if (restarting) return 'restarting';
  if (replaying) return draining ? 'replaying (drained)' : 'replaying';
  if (evicting) return 'draining, evicting (quiesce)';
  if (draining) return 'draining';
  return 'up';
}

/** Nodes that went down (process_down, stop, restart) within [from, to]. */
function wentDown(rec: SimRecord | null, from: number, to: number): string[] {
  if (!rec) return [];
  const out = new Set<string>();
  for (const e of rec.lifecycle) {
    if (e.t > to) break;
    if (e.t >= from && e.node && (e.event === 'process_down' || e.event === 'stop' || e.event === 'restart')) out.add(e.node);
  }
  return [...out];
}

/** When `node` went down within [from, to] (its process_down or stop), for its state then. */
function downAt(rec: SimRecord | null, node: string, from: number, to: number): number | null {
  for (const e of rec?.lifecycle ?? []) {
    if (e.t > to + SLACK_MS) break;
    if (e.node === node && e.t >= from - SLACK_MS && (e.event === 'process_down' || e.event === 'stop')) return e.t;
  }
  return null;
}

const STAGE_WORDS: Record<string, string> = {
  parse: 'read it late (node overloaded or starting)',
  admission: 'admission check',
  owner: 'waiting on the session store (owner write)',
  held: 'held by the holdConnect fault',
  session: 'restoring the session (reading it from the store)',
  restore: 'restoring the session (re-subscribing)',
  will: 'waiting on the session store (will)',
  takeover: 'closing the same client\'s previous link (takeover)',
  connack: 'writing the CONNACK',
};

/** The stage a broker line spent longest in. */
function longestStage(l: EventLine): [string, number] {
  const waits = (l.waits ?? {}) as Record<string, number>;
  let best: [string, number] = [String(l.stage ?? 'parse'), 0];
  for (const [k, v] of Object.entries(waits)) if (v > best[1]) best = [k, v];
  return best;
}

interface Part {
  ms: number;
  cause: SlowCause;
  node: string | null;
  /** When the cause applied (for the node's state). */
  t: number;
  detail: string;
}

function explainAttempt(a: AttemptRecord, end: number, lines: EventLine[], rec: SimRecord | null, frontDoor: ReadonlySet<string>, protocol: 4 | 5): Part {
  const stop = a.end ?? end;
  const ms = Math.round(stop - a.start);
  const mine = lines.filter((l) => l.t >= a.start - SLACK_MS && l.t <= stop + SLACK_MS);
  const done = mine.find((l) => l.event === 'connect');
  const pending = mine.filter((l) => l.event === 'connect_pending').sort((x, y) => Number(y.ms) - Number(x.ms))[0];
  const line = done ?? pending;
  const direct = rec?.nodeByEndpoint[a.target] ?? null;
  const node = a.node ?? line?.node ?? direct;
  if (a.outcome === 'refused') {
    const reason = line?.reason ? `${String(line.reason)}${Array.isArray(line.reasons) ? `: ${(line.reasons as string[]).join(', ')}` : ''}` : null;
    const via = frontDoor.has(a.target);
    const outOfService = via && (line?.reason === 'draining' || line?.reason === 'not_ready' || line?.reason === undefined);
    return {
      ms,
      cause: outOfService ? 'routed to a node out of service' : 'refused',
      node,
      t: a.start,
      detail: `CONNACK ${codeLabel(a.code ?? 0, protocol)} by ${node ?? 'an unnamed node'}${reason ? ` (${reason})` : ''}${via ? ' through the front door' : ''}`,
    };
  }
  if (a.outcome === 'connack') {
    if (line) {
      const [stage, wait] = longestStage(line);
      return { ms, cause: 'slow CONNACK', node, t: Number(line.t), detail: `${node} answered after ${Math.round(Number(line.ms ?? 0) + Number((line.waits as Record<string, number>)?.parse ?? 0))} ms; longest: ${stage} ${wait} ms (${STAGE_WORDS[stage] ?? stage})` };
    }
    const tcp = a.tcp === null ? null : Math.round(a.tcp - a.start);
    return { ms, cause: 'slow CONNACK', node, t: a.start, detail: `answered by ${node ?? 'an unnamed node'}; no broker trace${tcp !== null ? ` (TCP connect ${tcp} ms)` : ''}` };
  }
  // No CONNACK: the client timed out, or the link closed first.
  const why = a.outcome ?? 'no CONNACK';
  const down = wentDown(rec, a.start - SLACK_MS, stop + SLACK_MS);
  if (line) {
    const [stage, wait] = longestStage(line);
    const dead = down.includes(String(line.node)) || line.at_exit === true;
    if (dead) return { ms, cause: 'closed by a node that went down', node, t: downAt(rec, String(line.node), a.start, stop) ?? stop, detail: `${why}: ${node} went down holding the CONNECT (in ${String(line.stage ?? stage)})` };
    return { ms, cause: 'no CONNACK', node, t: Number(line.t), detail: `${why}: ${node} held the CONNECT, longest in ${stage} ${wait} ms (${STAGE_WORDS[stage] ?? stage})` };
  }
  if (why !== 'connack timeout' && down.length > 0 && (!direct || down.includes(direct))) {
    return {
      ms,
      cause: 'closed by a node that went down',
      node: direct ?? (down.length === 1 ? (down[0] ?? null) : null),
      t: downAt(rec, direct ?? down[0] ?? '', a.start, stop) ?? stop,
      detail: `${why} while ${down.join(', ')} went down`,
    };
  }
  const tcp = a.tcp === null ? 'the TCP connection was never established' : `TCP connected after ${Math.round(a.tcp - a.start)} ms`;
  if (direct) {
    return { ms, cause: 'no CONNACK', node: direct, t: a.start, detail: `${why}: ${direct} never read the CONNECT (${tcp}; it waited in ${direct}'s accept queue: the node process did not get to it)` };
  }
  return {
    ms,
    cause: 'no CONNACK',
    node: down.length === 1 ? (down[0] ?? null) : null,
    t: a.start,
    detail: `${why}: no broker read the CONNECT (${tcp}; it waited in a node's accept queue or the LB${down.length ? `; ${down.join(', ')} went down meanwhile` : ''})`,
  };
}

/**
 * Explains every reconnect slower than `retryTimerMs` + 1 s. `frontDoor`: the targets
 * that are a load balancer (a refusal reached through one is the LB's routing).
 */
export function attributeSlow(clients: readonly ClientRecord[], rec: SimRecord | null, retryTimerMs: number, frontDoor: readonly string[]): SlowReconnects {
  const threshold = Math.round(retryTimerMs + 1000);
  const byClient = new Map<string, EventLine[]>();
  for (const l of rec?.connects ?? []) {
    const id = String(l.client);
    let list = byClient.get(id);
    if (!list) byClient.set(id, (list = []));
    list.push(l);
  }
  const door = new Set(frontDoor);
  const all: SlowReconnect[] = [];
  for (const c of clients) {
    for (const d of c.disconnects) {
      if (d.back === null || d.back - d.at <= threshold) continue;
      const back = d.back;
      const attempts = c.attempts.filter((a) => a.start >= d.at - SLACK_MS && a.start <= back);
      const parts: Part[] = [];
      let prev = d.at;
      let backoff = 0;
      for (const a of attempts) {
        backoff += Math.max(0, a.start - prev);
        parts.push(explainAttempt(a, back, byClient.get(c.clientId) ?? [], rec, door, c.protocol));
        prev = a.end ?? back;
      }
      const worst = parts.reduce<Part | null>((m, p) => (m === null || p.ms > m.ms ? p : m), null);
      let item: Part;
      if (worst && worst.ms >= backoff) item = worst;
      else if (attempts.length > 0) {
        const failed = parts.filter((p) => p.cause !== 'slow CONNACK');
        const first = failed[0];
        item = {
          ms: Math.round(backoff),
          cause: 'client backoff',
          node: first?.node ?? null,
          t: d.at,
          detail: `${Math.round(backoff)} ms of the client's own backoff between ${attempts.length} attempts${first ? `, after: ${first.detail}` : ''}`,
        };
      } else {
        item = { ms: 0, cause: 'unexplained', node: null, t: d.at, detail: 'no connection attempt recorded' };
      }
      all.push({
        client: c.clientId,
        at: iso(d.at),
        ms: Math.round(back - d.at),
        cause: item.cause,
        node: item.node,
        node_state: item.node ? nodeState(rec, item.node, item.t) : null,
        detail: item.detail,
        attempts: attempts.length,
      });
    }
  }
  all.sort((x, y) => y.ms - x.ms);
  const byCause: Partial<Record<SlowCause, number>> = {};
  for (const s of all) byCause[s.cause] = (byCause[s.cause] ?? 0) + 1;
  return { threshold_ms: threshold, count: all.length, by_cause: byCause, items: all.slice(0, MAX_ITEMS), left_off: Math.max(0, all.length - MAX_ITEMS), sim_record: rec !== null };
}
