/**
 * What the simulator itself recorded that the load report checks against: the windows
 * during which a node was certainly draining, from `<stateDir>/calls.ndjson` (the node's
 * own record of `PUT /v1/drain` answered 200 → the next `DELETE /v1/drain` received),
 * and the end of a roll, from the orchestrator's journal.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readSimJson } from '../config-files.js';
import type { DrainWindow } from './report.js';

interface CallLine {
  t: number;
  t_end?: number;
  system: string;
  node?: string;
  method: string;
  path: string;
  status: number;
}

/**
 * Drain windows from call lines: from the end of a successful `PUT /v1/drain` (the flag
 * is set before the node answers) to the receipt of the next `DELETE /v1/drain` (cleared
 * after it arrives), `until` when the node is still drained. The flag survives restarts,
 * so a window spans them.
 */
export function drainWindows(calls: readonly CallLine[], until: number): DrainWindow[] {
  const byNode = new Map<string, CallLine[]>();
  for (const c of calls) {
    if (c.system !== 'node' || !c.node || c.path.split('?')[0] !== '/v1/drain') continue;
    if (c.method !== 'PUT' && c.method !== 'DELETE') continue;
    if (c.method === 'PUT' && c.status !== 200) continue;
    let list = byNode.get(c.node);
    if (!list) byNode.set(c.node, (list = []));
    list.push(c);
  }
  const out: DrainWindow[] = [];
  for (const [node, list] of byNode) {
    list.sort((a, b) => a.t - b.t);
    let from: number | null = null;
    for (const c of list) {
      if (c.method === 'PUT') {
        if (from === null) from = c.t_end ?? c.t;
      } else if (from !== null) {
        if (c.t > from) out.push({ node, from, to: c.t });
        from = null;
      }
    }
    if (from !== null) out.push({ node, from, to: until });
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Reads `calls.ndjson` (lines not in time order, some maybe half-written at the end). */
export function readCalls(file: string): CallLine[] | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const out: CallLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as CallLine);
    } catch {
      // a line still being written
    }
  }
  return out;
}

export type JournalState = { run_id: string; status: string } | null;

export function readJournal(file: string): JournalState {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { run_id?: unknown; status?: unknown };
    return typeof j.run_id === 'string' && typeof j.status === 'string' ? { run_id: j.run_id, status: j.status } : null;
  } catch {
    return null;
  }
}

/**
 * "Until the roll ends": true once the journal shows a run that is over (`done`,
 * `failed`, `interrupted`, `refused`) and that is not the one already over when the load
 * started (a new run id, or the same run that was then still running).
 */
export function rollEnded(initial: JournalState, now: JournalState): boolean {
  if (!now || now.status === 'running') return false;
  if (!initial) return true;
  return now.run_id !== initial.run_id || initial.status === 'running';
}

/** One line of the simulator's `events.ndjson` (sim clock `t`). */
export interface EventLine {
  t: number;
  event: string;
  node?: string;
  [k: string]: unknown;
}

/** Reads `events.ndjson` (lines not in time order; a half-written last line is skipped). */
export function readEvents(file: string): EventLine[] | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const out: EventLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as EventLine);
    } catch {
      // a line still being written
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** What the simulator recorded that explains a slow reconnect: each broker's CONNECTs, node lifecycles, drains, evictions. */
export interface SimRecord {
  /** `connect` / `connect_pending` lines of every broker (connect-trace.ts). */
  connects: EventLine[];
  /** process_down/up, restart, stop, replay_done, disconnect_request/end, in time order. */
  lifecycle: EventLine[];
  drainWindows: DrainWindow[];
  /** Node id per MQTT endpoint (`127.0.0.1:<port>`): an attempt straight to a node names it. */
  nodeByEndpoint: Record<string, string>;
}

const LIFECYCLE = new Set(['process_down', 'process_up', 'restart', 'stop', 'replay_done', 'disconnect_request', 'disconnect_end']);

/** The simulator's record from its state dir (`events.ndjson`, `calls.ndjson`); null when there is none. */
export function readSimRecord(stateDir: string, until: number): SimRecord | null {
  const events = readEvents(path.join(stateDir, 'events.ndjson'));
  if (!events) return null;
  const calls = readCalls(path.join(stateDir, 'calls.ndjson'));
  const info = readSimJson(stateDir);
  return {
    nodeByEndpoint: Object.fromEntries((info?.nodes ?? []).map((n) => [`127.0.0.1:${n.mqttPort}`, n.id])),
    connects: events.filter((e) => e.event === 'connect' || e.event === 'connect_pending'),
    lifecycle: events.filter((e) => LIFECYCLE.has(e.event)),
    drainWindows: calls ? drainWindows(calls, until) : [],
  };
}
