/**
 * The client-impact report of `sim load`: pure arithmetic over what every load client
 * recorded (what it published, which of those the broker PUBACKed, what it received,
 * how each disconnect went). No I/O here, so every figure is unit-tested with fixed
 * inputs.
 *
 * Definitions (the report carries them in words too):
 * - **published**: PUBLISH calls made (QoS 1), **acked**: those the broker PUBACKed,
 *   **unacked**: published, never PUBACKed by the end (not a loss: the broker never
 *   promised them).
 * - **delivered**: distinct (sender, seq) messages received by a subscriber,
 *   **duplicates**: receipts beyond the first of the same (sender, seq) (QoS 1 allows them).
 * - **lost**: PUBACKed and never delivered, counted after the final drain.
 * - **reconnect time**: per disconnect, from the moment the link was lost (DISCONNECT
 *   received or socket closed) to the next successful CONNACK, backoff included.
 * - **stall**: per client, the longest time one PUBLISH waited for its PUBACK (from the
 *   call, also when the client was offline and the message queued); the table gives the
 *   max and p99 of those per-client maxima.
 * - **gave up** (`--give-up-share`): clients that, as a stock client does, stopped for good
 *   after a refused CONNACK or a DISCONNECT with a reason code. Stranded by choice, kept
 *   apart from the clients stranded by a fault (`not_connected`); the PUBACKed messages
 *   queued for them and never delivered are `held_for_gave_up`, not `lost` (the broker
 *   keeps them in the session; nobody came to fetch them).
 */

import { type SlowReconnects, attributeSlow } from './attribute.js';
import type { SimRecord } from './record.js';

export type Protocol = 5 | 4;

/** One loss of the link and its recovery. */
export interface DisconnectRecord {
  /** When the link was lost (ms, sim clock). */
  at: number;
  /** When the next CONNACK success arrived; null when it never came back. */
  back: number | null;
  /** MQTT 5 DISCONNECT reason code received, or null (socket closed without one). */
  reasonCode: number | null;
  serverReference?: string;
}

/** A CONNECT answered with a CONNACK failure. */
export interface RefusalRecord {
  at: number;
  protocol: Protocol;
  /** MQTT 5 reason code or MQTT 3.1.1 return code. */
  code: number;
  serverReference?: string;
}

/**
 * One connection attempt of a client (TCP connect, CONNECT, and how it ended), in the
 * sim clock. The attribution of slow reconnects joins these with the brokers' own
 * record of each CONNECT (client id + time).
 */
export interface AttemptRecord {
  /** TCP connect begun (the CONNECT is queued at once and written when it connects). */
  start: number;
  /** TCP connection established; null when it never was. */
  tcp: number | null;
  end: number | null;
  target: string;
  /** `connack` (success), `refused`, or why it ended without a CONNACK (`connack timeout`, `ECONNREFUSED`, `closed before CONNACK`, …). */
  outcome: string | null;
  /** The CONNACK's code (refused). */
  code?: number;
  /** The node that answered, from its CONNACK user properties (MQTT 5). */
  node?: string;
  bootId?: string;
}

/** A CONNECT the broker accepted, with the broker identity it announced (if any). */
export interface AcceptRecord {
  /** When the CONNECT was sent and when its CONNACK arrived (ms, sim clock). */
  sentAt: number;
  at: number;
  node?: string;
  bootId?: string;
  sessionPresent: boolean;
}

export interface ClientRecord {
  index: number;
  clientId: string;
  protocol: Protocol;
  /** Number of PUBLISH calls; seqs are 1..published. */
  published: number;
  /** Seqs the broker PUBACKed. */
  acked: Set<number>;
  /** Receipts: sender index → seq → times received. */
  received: Map<number, Map<number, number>>;
  /** Longest PUBLISH → PUBACK wait (ms), unacked ones counted up to the end. */
  maxStallMs: number;
  disconnects: DisconnectRecord[];
  refusals: RefusalRecord[];
  accepts: AcceptRecord[];
  /** CONNACKs after the first with sessionPresent false (the session was gone). */
  sessionsLost: number;
  /** Server References this client followed (connected to next). */
  referencesFollowed: number;
  connectedAtEnd: boolean;
  /** PUBLISH callbacks that failed instead of a PUBACK, by error message. */
  publishErrors: Record<string, number>;
  /** Connection attempts that ended without any CONNACK, by cause (ECONNREFUSED, connack timeout, …). */
  connectFailures: Record<string, number>;
  /** Every connection attempt, in order. */
  attempts: AttemptRecord[];
  /** In the give-up mode (`--give-up-share`). */
  givesUp: boolean;
  /** When and on what a give-up client stopped (`CONNACK 0x9C`, `DISCONNECT 0x9C`); null while it has not. */
  gaveUp: { at: number; why: string } | null;
}

export function emptyRecord(index: number, clientId: string, protocol: Protocol): ClientRecord {
  return {
    index,
    clientId,
    protocol,
    published: 0,
    acked: new Set(),
    received: new Map(),
    maxStallMs: 0,
    disconnects: [],
    refusals: [],
    accepts: [],
    sessionsLost: 0,
    referencesFollowed: 0,
    connectedAtEnd: false,
    publishErrors: {},
    connectFailures: {},
    givesUp: false,
    gaveUp: null,
    attempts: [],
  };
}

/** Nearest-rank percentile (p in 0–100) of `xs`; null for an empty list. */
export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

/** `0x9C` for MQTT 5 codes, the decimal return code for MQTT 3.1.1. */
export function codeLabel(code: number, protocol: Protocol = 5): string {
  return protocol === 5 ? `0x${code.toString(16).toUpperCase().padStart(2, '0')}` : `rc ${code} (3.1.1)`;
}

const REASON_NAMES: Record<number, string> = {
  0x00: 'normal disconnection',
  0x80: 'unspecified error',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8b: 'server shutting down',
  0x8e: 'session taken over',
  0x9c: 'use another server',
  0x9d: 'server moved',
};
const V3_NAMES: Record<number, string> = { 1: 'unacceptable protocol', 2: 'identifier rejected', 3: 'server unavailable', 4: 'bad credentials', 5: 'not authorized' };

export function codeName(code: number, protocol: Protocol = 5): string {
  return (protocol === 5 ? REASON_NAMES[code] : V3_NAMES[code]) ?? 'other';
}

/** A window during which a node was certainly draining (ms, sim clock). */
export interface DrainWindow {
  node: string;
  from: number;
  to: number;
}

export interface DrainCheck {
  /** Accepted CONNECTs whose CONNACK named a node (the only ones that can be checked). */
  checked: number;
  /** Accepted CONNECTs without a broker identity (MQTT 3.1.1, or a broker that announces none). */
  unidentified: number;
  /** Sent and answered entirely inside a drain window of the node that accepted: certain violations. */
  accepted_while_draining: number;
  /** Overlapping a window's edge: cannot be told from the client side; not counted above. */
  borderline: number;
  samples: Array<{ client: string; node: string; sent_at: number; connack_at: number }>;
}

/** Which accepted CONNECTs a draining node answered. Null windows: no drain record to check against. */
export function checkDrainAccepts(clients: readonly ClientRecord[], windows: readonly DrainWindow[] | null): DrainCheck | null {
  if (windows === null) return null;
  const out: DrainCheck = { checked: 0, unidentified: 0, accepted_while_draining: 0, borderline: 0, samples: [] };
  for (const c of clients) {
    for (const a of c.accepts) {
      if (!a.node) {
        out.unidentified++;
        continue;
      }
      out.checked++;
      const mine = windows.filter((w) => w.node === a.node);
      if (mine.some((w) => a.sentAt >= w.from && a.at <= w.to)) {
        out.accepted_while_draining++;
        if (out.samples.length < 10) out.samples.push({ client: c.clientId, node: a.node, sent_at: a.sentAt, connack_at: a.at });
      } else if (mine.some((w) => a.at >= w.from && a.sentAt <= w.to)) out.borderline++;
    }
  }
  return out;
}

export interface DrainPhase {
  /** `complete`: every client connected, nothing in flight, every PUBACKed message delivered; `quiet`: connected and in flight settled, deliveries stopped growing; `timeout`: the bound ran out. */
  ended_by: 'complete' | 'quiet' | 'timeout';
  ms: number;
}

export interface LoadReport {
  front_door: string[];
  duration_ms: number;
  rate_per_s: number;
  qos: 1;
  /** `not_connected`: stranded by a fault (not connected at the end, and not a client that gave up). */
  clients: { total: number; mqtt5: number; mqtt311: number; connected_at_end: number; not_connected: string[]; gave_up: number };
  /** `lost` excludes `held_for_gave_up`: PUBACKed messages for a client that gave up, never fetched. */
  messages: { published: number; acked: number; unacked: number; delivered: number; lost: number; duplicates: number; held_for_gave_up: number };
  /** The give-up mode: clients in it, those that gave up, on what (`DISCONNECT 0x9C` × n), and up to 20 of their ids. */
  give_up: { clients: number; gave_up: number; by: Record<string, number>; ids: string[] };
  /** Why PUBLISHes got no PUBACK: failure callbacks by message (the rest were still in flight at the end). */
  publish_errors: Record<string, number>;
  /** Up to 20 lost messages, to look for. */
  lost_samples: Array<{ sender: string; seq: number }>;
  /** `never_back`: disconnects never recovered by a client that did not give up; `gave_up`: those of clients that did. */
  reconnects: { disconnects: number; reconnected: number; never_back: number; gave_up: number; p50_ms: number | null; p99_ms: number | null; max_ms: number | null };
  /** DISCONNECT packets received, by reason code (`0x9C`), plus `socket_closed` for links lost without one. */
  disconnect_reasons: Record<string, number>;
  /** Server References received (DISCONNECT or CONNACK), by value. */
  server_references: Record<string, number>;
  references_followed: number;
  /** DISCONNECT reason codes and Server References seen by MQTT 5 clients only. */
  mqtt5_disconnects: { with_reason: number; with_server_reference: number };
  /** CONNECTs refused, by CONNACK code (`0x9C`, `rc 3 (3.1.1)`). */
  connects_refused: Record<string, number>;
  /** Connection attempts that got no CONNACK at all, by cause. */
  connect_failures: Record<string, number>;
  sessions_lost: number;
  stall: { max_ms: number; p99_ms: number | null; p50_ms: number | null };
  draining_accepts: DrainCheck | null;
  /** Every reconnect slower than the client's own retry timer + 1 s, with its cause (attribute.ts). */
  slow_reconnects: SlowReconnects;
  drain: DrainPhase;
}

export interface ReportContext {
  frontDoor: string[];
  durationMs: number;
  ratePerS: number;
  drain: DrainPhase;
  /** Drain windows from the simulator's record, or null when not available. */
  drainWindows?: DrainWindow[] | null;
  /** The simulator's record (broker CONNECT traces, node lifecycles), to explain slow reconnects; null/absent = clients' side only. */
  simRecord?: SimRecord | null;
  /** The clients' own retry timer (the first reconnect's delay bound, ms); slow = above it + 1 s. Default 100. */
  retryTimerMs?: number;
}

const inc = (m: Record<string, number>, k: string, by = 1): void => {
  m[k] = (m[k] ?? 0) + by;
};

export function buildReport(clients: readonly ClientRecord[], ctx: ReportContext): LoadReport {
  // Aggregate receipts per sender across every receiver.
  const bySender = new Map<number, Map<number, number>>();
  for (const c of clients) {
    for (const [sender, seqs] of c.received) {
      let agg = bySender.get(sender);
      if (!agg) bySender.set(sender, (agg = new Map()));
      for (const [seq, n] of seqs) agg.set(seq, (agg.get(seq) ?? 0) + n);
    }
  }
  let published = 0;
  let acked = 0;
  let delivered = 0;
  let duplicates = 0;
  let lost = 0;
  let held = 0;
  const n = clients.length;
  const gaveUp = new Set(clients.filter((c) => c.gaveUp).map((c) => c.index));
  const lostSamples: LoadReport['lost_samples'] = [];
  for (const [, seqs] of bySender) {
    for (const n of seqs.values()) {
      delivered++;
      duplicates += n - 1;
    }
  }
  for (const c of clients) {
    published += c.published;
    acked += c.acked.size;
    const got = bySender.get(c.index);
    // Each client publishes to its peer (index + 1): a peer that gave up never fetches what waits for it.
    const peerGaveUp = gaveUp.has((c.index + 1) % n);
    for (const seq of c.acked) {
      if (!got?.has(seq)) {
        if (peerGaveUp) {
          held++;
          continue;
        }
        lost++;
        if (lostSamples.length < 20) lostSamples.push({ sender: c.clientId, seq });
      }
    }
  }
  const times: number[] = [];
  let disconnects = 0;
  let neverBack = 0;
  let neverBackGaveUp = 0;
  const reasons: Record<string, number> = {};
  const refs: Record<string, number> = {};
  const refused: Record<string, number> = {};
  const v5 = { with_reason: 0, with_server_reference: 0 };
  for (const c of clients) {
    for (const d of c.disconnects) {
      disconnects++;
      if (d.back === null) {
        if (c.gaveUp) neverBackGaveUp++;
        else neverBack++;
      } else times.push(d.back - d.at);
      inc(reasons, d.reasonCode === null ? 'socket_closed' : codeLabel(d.reasonCode));
      if (d.serverReference) inc(refs, d.serverReference);
      if (c.protocol === 5 && d.reasonCode !== null) v5.with_reason++;
      if (c.protocol === 5 && d.serverReference) v5.with_server_reference++;
    }
    for (const r of c.refusals) {
      inc(refused, codeLabel(r.code, r.protocol));
      if (r.serverReference) inc(refs, r.serverReference);
    }
  }
  const publishErrors: Record<string, number> = {};
  const connectFailures: Record<string, number> = {};
  for (const c of clients) {
    for (const [k, n] of Object.entries(c.publishErrors)) inc(publishErrors, k, n);
    for (const [k, n] of Object.entries(c.connectFailures)) inc(connectFailures, k, n);
  }
  const stalls = clients.map((c) => c.maxStallMs);
  const round = (x: number | null): number | null => (x === null ? null : Math.round(x));
  return {
    front_door: ctx.frontDoor,
    duration_ms: Math.round(ctx.durationMs),
    rate_per_s: ctx.ratePerS,
    qos: 1,
    clients: {
      total: clients.length,
      mqtt5: clients.filter((c) => c.protocol === 5).length,
      mqtt311: clients.filter((c) => c.protocol === 4).length,
      connected_at_end: clients.filter((c) => c.connectedAtEnd).length,
      not_connected: clients.filter((c) => !c.connectedAtEnd && !c.gaveUp).map((c) => c.clientId),
      gave_up: gaveUp.size,
    },
    messages: { published, acked, unacked: published - acked, delivered, lost, duplicates, held_for_gave_up: held },
    give_up: {
      clients: clients.filter((c) => c.givesUp).length,
      gave_up: gaveUp.size,
      by: clients.reduce<Record<string, number>>((m, c) => {
        if (c.gaveUp) inc(m, c.gaveUp.why);
        return m;
      }, {}),
      ids: clients
        .filter((c) => c.gaveUp)
        .slice(0, 20)
        .map((c) => c.clientId),
    },
    publish_errors: publishErrors,
    lost_samples: lostSamples,
    reconnects: {
      disconnects,
      reconnected: times.length,
      never_back: neverBack,
      gave_up: neverBackGaveUp,
      p50_ms: round(percentile(times, 50)),
      p99_ms: round(percentile(times, 99)),
      max_ms: times.length ? Math.round(Math.max(...times)) : null,
    },
    disconnect_reasons: reasons,
    server_references: refs,
    references_followed: clients.reduce((s, c) => s + c.referencesFollowed, 0),
    mqtt5_disconnects: v5,
    connects_refused: refused,
    connect_failures: connectFailures,
    sessions_lost: clients.reduce((s, c) => s + c.sessionsLost, 0),
    stall: { max_ms: Math.round(stalls.length ? Math.max(...stalls) : 0), p99_ms: round(percentile(stalls, 99)), p50_ms: round(percentile(stalls, 50)) },
    draining_accepts: checkDrainAccepts(clients, ctx.drainWindows ?? null),
    slow_reconnects: attributeSlow(clients, ctx.simRecord ?? null, ctx.retryTimerMs ?? 100, ctx.frontDoor),
    drain: ctx.drain,
  };
}

/** True when the report shows no client-visible damage: nothing lost, every client back (but those that gave up by choice). */
export function clean(r: LoadReport): boolean {
  return r.messages.lost === 0 && r.clients.not_connected.length === 0 && (r.draining_accepts?.accepted_while_draining ?? 0) === 0;
}

const ms = (x: number | null): string => (x === null ? '-' : `${x} ms`);
const pairs = (m: Record<string, number>, name?: (k: string) => string): string =>
  Object.keys(m).length === 0
    ? 'none'
    : Object.entries(m)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k}${name ? ` ${name(k)}` : ''} × ${n}`)
        .join(', ');

function labelName(label: string): string {
  if (label === 'socket_closed') return '(no DISCONNECT)';
  const v3 = /^rc (\d+)/.exec(label);
  if (v3) return `(${codeName(Number(v3[1]), 4)})`;
  const n = Number.parseInt(label, 16);
  return Number.isNaN(n) ? '' : `(${codeName(n)})`;
}

/** The report as a two-column table, for a terminal. */
export function renderReport(r: LoadReport): string {
  const m = r.messages;
  const rows: Array<[string, string]> = [
    [
      'clients',
      `${r.clients.total} (${r.clients.mqtt5} MQTT 5, ${r.clients.mqtt311} MQTT 3.1.1), ${r.clients.connected_at_end} connected at the end` +
        (r.clients.not_connected.length ? `, ${r.clients.not_connected.length} stranded (e.g. ${r.clients.not_connected.slice(0, 3).join(', ')})` : ''),
    ],
    ['front door', r.front_door.join(', ')],
    ['load', `${r.rate_per_s} msg/s QoS 1 for ${(r.duration_ms / 1000).toFixed(1)} s; final drain ${r.drain.ms} ms (${r.drain.ended_by})`],
    ['published', String(m.published)],
    ['PUBACKed', `${m.acked}${m.unacked ? ` (${m.unacked} never PUBACKed${Object.keys(r.publish_errors).length ? `: ${pairs(r.publish_errors)}` : ''})` : ''}`],
    ['delivered', String(m.delivered)],
    ['lost', `${m.lost}${m.lost ? ` (PUBACKed, never delivered, e.g. ${r.lost_samples.slice(0, 3).map((s) => `${s.sender}#${s.seq}`).join(', ')})` : ' (PUBACKed, never delivered)'}`],
    ['duplicates', String(m.duplicates)],
    ...(r.give_up.clients > 0
      ? ([
          [
            'gave up (by choice)',
            `${r.give_up.gave_up} of ${r.give_up.clients} give-up clients${r.give_up.gave_up ? ` (${pairs(r.give_up.by)}); ${m.held_for_gave_up} PUBACKed messages held for them` : ''}`,
          ],
        ] as Array<[string, string]>)
      : []),
    [
      'reconnect time',
      r.reconnects.disconnects === 0
        ? 'no disconnects'
        : `${r.reconnects.disconnects} disconnects: p50 ${ms(r.reconnects.p50_ms)}, p99 ${ms(r.reconnects.p99_ms)}, max ${ms(r.reconnects.max_ms)}${r.reconnects.never_back ? `, ${r.reconnects.never_back} never back` : ''}`,
    ],
    ['DISCONNECT reasons', pairs(r.disconnect_reasons, labelName)],
    ['server references', `${pairs(r.server_references)}${r.references_followed ? `; followed ${r.references_followed}` : ''}`],
    ['CONNECTs refused', pairs(r.connects_refused, labelName)],
    ['connect failures', `${pairs(r.connect_failures)}${Object.keys(r.connect_failures).length ? ' (attempts without a CONNACK)' : ''}`],
    ['sessions lost', String(r.sessions_lost)],
    ['longest publish stall', `max ${ms(r.stall.max_ms)}, p99 ${ms(r.stall.p99_ms)} across clients`],
  ];
  const d = r.draining_accepts;
  rows.push([
    'accepted while draining',
    d === null
      ? 'not checked (no simulator record)'
      : `${d.accepted_while_draining} of ${d.checked} identified CONNACKs${d.borderline ? ` (${d.borderline} at a drain edge, undecidable)` : ''}${d.unidentified ? `; ${d.unidentified} without a node identity` : ''}`,
  ]);
  const s = r.slow_reconnects;
  rows.push([
    'slow reconnects',
    s.count === 0
      ? `none slower than ${s.threshold_ms} ms (the clients' retry timer + 1 s)`
      : `${s.count} slower than ${s.threshold_ms} ms (retry timer + 1 s): ${pairs(s.by_cause as Record<string, number>)}${s.sim_record ? '' : ' (no simulator record: client side only)'}`,
  ]);
  for (const i of s.items.slice(0, 5)) rows.push(['', `${i.client} at ${i.at.slice(11, 23)}, ${i.ms} ms: ${i.cause}${i.node ? ` — ${i.node} (${i.node_state ?? '?'})` : ''}: ${i.detail}`]);
  if (s.count > 5) rows.push(['', `… ${s.count - 5} more in the JSON report (slow_reconnects.items, up to ${s.items.length})`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
}
