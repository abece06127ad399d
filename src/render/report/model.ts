/**
 * A run's log (`<state dir>/runs/<run id>.ndjson`) read back into what the report draws:
 * the run's header, one bar per node step that ran (both parts of a resumed run), the
 * plan's ETA, the session samples of every draining node, the canary, leadership moved
 * away and back, warnings and failures. Nothing is read from the cluster: a log copied to
 * another machine gives the same report.
 *
 * The log is read as untrusted input: every event the report uses is checked with zod
 * (a wrong shape is a line it could not read, named, never a crash), a truncated or
 * corrupt line is named and skipped, events of a newer version are counted and listed.
 * Every string of the model is scrubbed of anything secret-looking before a renderer sees it.
 */
import { readFileSync, statSync } from 'node:fs';
import * as z from 'zod';

/** The largest log the report reads (a 1,000-node roll under load logs far less). */
export const MAX_LOG_BYTES = 512 * 1024 * 1024;

export type BarOutcome = 'done' | 'failed' | 'unfinished';

export interface StepBar {
  node: string;
  step: string;
  wave: number | null;
  /** which process of the run (0: the first, 1: the first resume, …) */
  part: number;
  start: number;
  end: number;
  outcome: BarOutcome;
  summary: string;
  /** the waits the step reported (time, what it waited for) */
  waits: Array<{ t: number; detail: string }>;
}

export interface StepEta {
  step: string;
  expected_ms: number;
  max_ms: number;
}

export interface CanaryCheck {
  node: string;
  step: string | null;
  t: number;
  target: string;
  endpoint: string | null;
  ok: boolean;
  connect_ms: number | null;
  delivery_ms: number | null;
  detail: string | null;
}

export interface Sample {
  t: number;
  phase: string;
  sessions: Record<string, number>;
  disconnected: number;
  requested: number;
  rate_per_s: number | null;
}

export interface Quiesce {
  node: string;
  disconnects: Array<{ t: number; phase: string | null; requested: number; rate_per_s: number | null; limit: number | null; reason_code: number | null }>;
  paces: Array<{ t: number; rate_per_s: number; previous_rate_per_s: number | null; reason: string }>;
  cohort: { t: number; size: number; returned: number; ok: boolean; bound_ms: number | null } | null;
  samples: Sample[];
}

export interface Leadership {
  node: string;
  away: { t: number; moved: number; via: string | null } | null;
  back: { t: number; moved: number; planned: number | null; led_before: number | null; refused: number; timed_out: number; enabled: boolean } | null;
}

export interface Issue {
  t: number;
  level: 'warn' | 'error';
  node: string | null;
  step: string | null;
  message: string;
  next: string | null;
}

export interface NodeModel {
  id: string;
  wave: number | null;
  status: 'done' | 'failed' | 'running' | 'pending' | 'skipped';
  bars: StepBar[];
  /** the plan's expectation per step (the outcome's, else the run.plan event's) */
  eta: StepEta[];
  sessionsAtDrain: number | null;
}

export interface RunPart {
  t: number;
  argv: string[];
  pid: number | null;
  end: number | null;
  status: string | null;
  exit_code: number | null;
}

export interface ReportModel {
  run_id: string;
  file: string;
  initiator: string | null;
  config_file: string | null;
  command: string | null;
  started: number;
  ended: number;
  /** done, failed, refused, interrupted, … as recorded; `unfinished` when the log has no end */
  status: string;
  exit_code: number | null;
  next: string | null;
  error: { message: string; node: string | null; step: string | null } | null;
  parts: RunPart[];
  waves: string[][];
  nodes: NodeModel[];
  eta: { basis: string | null; node_expected_ms: number | null; node_max_ms: number | null; waves: Array<{ expected_ms: number; max_ms: number }> };
  quiesce: Quiesce[];
  canary: CanaryCheck[];
  leadership: Leadership[];
  issues: Issue[];
  /** what the report could not read, for the reader (line numbers are 1-based) */
  unreadable: Array<{ line: number; reason: string }>;
  /** events this version does not know (a newer quantum-roll's), by name */
  unknown: Record<string, number>;
  lines: number;
}

/** Thrown for input the report cannot be made from at all (the command maps it to exit 2). */
export class UnreadableLog extends Error {}

// ---------------------------------------------------------------------------------------------
// Secrets: the log is redacted where it is written (util/log.ts); a log edited or copied by
// hand may not be, so every string the report shows is scrubbed again.

const SCRUBS: Array<[RegExp, string]> = [
  [/\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, '$1$2[redacted]'],
  [/((?:token|secret|password|passwd|pwd|authorization|cookie|api[_-]?key|credential)[A-Za-z_-]*["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi, '$1[redacted]'],
  [/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1[redacted]@'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted private key]'],
  // long opaque credentials with a well-known prefix (GitHub, Slack, AWS, JWT)
  [/\b(?:gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})\b/g, '[redacted]'],
];

export function scrub(s: string): string {
  let out = s;
  for (const [re, to] of SCRUBS) out = out.replace(re, to);
  return out;
}

/**
 * Every string of the model scrubbed: whatever field a renderer shows went through here.
 * Done on the model, not on the log's lines: a 1,000-node run's outcome events hold
 * hundreds of thousands of strings the report never shows (and never a secret-named field:
 * the model reads named fields only).
 */
function scrubDeep<T>(v: T, depth = 0): T {
  if (typeof v === 'string') return scrub(v) as T;
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = scrubDeep(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = scrubDeep(o[k], depth + 1);
  return v;
}

// ---------------------------------------------------------------------------------------------
// The events, as the report reads them (loose: fields it does not use may come and go).

const str = z.string();
const num = z.number().finite();
const optStr = str.nullish();
const optNum = num.nullish();

const line = z.looseObject({ time: str, event: str.optional(), level: z.union([str, num]).optional(), msg: optStr });

const EVENTS = {
  'run.log': z.looseObject({ run_id: str, argv: z.array(str).optional(), pid: optNum, config_file: optStr }),
  'run.plan': z.looseObject({
    initiator: optStr,
    waves: z.array(z.array(str)),
    eta: z
      .looseObject({
        basis: optStr,
        node_expected_ms: optNum,
        node_max_ms: optNum,
        steps: z.record(str, z.looseObject({ expected_ms: num, max_ms: num })).optional(),
      })
      .optional(),
  }),
  'run.end': z.looseObject({
    run_id: optStr,
    outcome: z.looseObject({
      status: optStr,
      exit_code: optNum,
      run_command: optStr,
      config_file: optStr,
      waves: z.array(z.looseObject({ nodes: z.array(str).optional(), expected_ms: optNum, max_ms: optNum })).nullish(),
      nodes: z.record(str, z.looseObject({ waits: z.array(z.looseObject({ step: str, expected_ms: num, max_ms: num })).nullish() })).nullish(),
      error: z.looseObject({ message: optStr, node: optStr, step: optStr, next: optStr }).nullish(),
      message: optStr,
      next: optStr,
    }),
  }),
  'lease.acquired': z.looseObject({ holder: optStr }),
  'wave.start': z.looseObject({ wave: optNum, nodes: z.array(str) }),
  'step.start': z.looseObject({ node: str, step: str, wave: optNum }),
  'step.done': z.looseObject({ node: str, step: str, wave: optNum, duration_ms: num, summary: optStr }),
  'step.failed': z.looseObject({ node: str, step: str, wave: optNum, duration_ms: optNum, err: optStr }),
  wait: z.looseObject({ node: optStr, step: optStr, detail: optStr }),
  'node.done': z.looseObject({ node: str, wave: optNum, status: str }),
  warning: z.looseObject({ node: optStr }),
  'drain.start': z.looseObject({ node: str, sessions: optNum }),
  'canary.round_trip': z.looseObject({ node: optStr, step: optStr, target: str, endpoint: optStr, connect_ms: optNum, delivery_ms: optNum }),
  'canary.failed': z.looseObject({ node: optStr, step: optStr, target: str, endpoint: optStr, kind: optStr, detail: optStr }),
  'canary.drain_enforced': z.looseObject({ node: optStr, endpoint: optStr, how: optStr }),
  'canary.drain_not_enforced': z.looseObject({ node: optStr, endpoint: optStr, detail: optStr }),
  'leader_transfer.done': z.looseObject({ node: str, moved: num, via: optStr }),
  'leaders.restored': z.looseObject({ node: str, moved: num, planned: optNum, led_before: optNum, refused: optNum, timed_out: optNum, enabled: z.boolean().optional() }),
  'quiesce.disconnect': z.looseObject({ node: str, phase: optStr, requested: num, rate_per_s: optNum, limit: optNum, reason_code: optNum }),
  'quiesce.pace': z.looseObject({ node: str, rate_per_s: num, previous_rate_per_s: optNum, reason: optStr }),
  'quiesce.cohort': z.looseObject({ node: str, size: num, returned: num, ok: z.boolean(), bound_ms: optNum }),
  'sessions.sample': z.looseObject({ node: str, phase: optStr, sessions: z.record(str, num), disconnected: optNum, requested: optNum, rate_per_s: optNum }),
} as const;

/** Every event this version writes; anything else is a newer version's (listed, not drawn). */
const KNOWN = new Set<string>([
  ...Object.keys(EVENTS),
  'log.truncated', 'security_warning', 'internal_error', 'progress', 'wave.done', 'info', 'lb.out', 'restart.exec',
  'restart.output', 'restart.done', 'restart.orphan_killed', 'drain.cleared', 'readmit.done', 'readmit.rollback_failed',
  'drain.lost', 'lb.reasserted', 'quorum.reasserted', 'node.reasserted', 'canary.readmit_undone', 'lease.takeover',
  'lease.lost', 'lease.renew_retry', 'lease.released', 'lease.release_conflict', 'lease.release_failed',
]);

type EventName = keyof typeof EVENTS;
type Ev<K extends EventName> = z.infer<(typeof EVENTS)[K]> & { t: number; level: string };

const LEVELS: Record<string, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function levelOf(l: unknown): string {
  return typeof l === 'number' ? (LEVELS[l] ?? 'info') : typeof l === 'string' ? l : 'info';
}

function firstIssue(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join('.') || '(line)'}: ${i.message}` : 'invalid';
}

function nextOf(message: string): string | null {
  const m = /\bNext: (.+?)\.?$/s.exec(message);
  return m ? m[1]!.trim() : null;
}

/** Reads a run log file; UnreadableLog when there is nothing a report could be made of. */
export function readRunLog(file: string): ReportModel {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new UnreadableLog(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size > MAX_LOG_BYTES) throw new UnreadableLog(`${file} is ${Math.round(size / 1e6)} MB, above the ${MAX_LOG_BYTES / 1024 / 1024} MiB a report reads: is it a run log?`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UnreadableLog(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return buildModel(text, file);
}

/** The model of a log's text (exported for tests and for logs read from elsewhere). */
export function buildModel(text: string, file: string): ReportModel {
  if (text.trim() === '') throw new UnreadableLog(`${file} is not a quantum-roll run log: it is empty`);
  const rawLines = text.split('\n');
  const endsClean = text.endsWith('\n');
  if (endsClean) rawLines.pop();
  const unreadable: ReportModel['unreadable'] = [];
  const unknown: Record<string, number> = {};
  const events: Array<{ name: string; e: Record<string, unknown>; t: number; level: string; n: number }> = [];
  let parsedAny = false;
  rawLines.forEach((raw, i) => {
    const n = i + 1;
    if (raw.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      const last = i === rawLines.length - 1 && !endsClean;
      unreadable.push({ line: n, reason: last ? 'the last line is cut short (the log was truncated or is still being written)' : 'not JSON (a corrupt line)' });
      return;
    }
    const l = line.safeParse(v);
    if (!l.success) {
      unreadable.push({ line: n, reason: `not a log event (${firstIssue(l.error)})` });
      return;
    }
    const t = Date.parse(l.data.time);
    if (!Number.isFinite(t)) {
      unreadable.push({ line: n, reason: `time ${JSON.stringify(l.data.time).slice(0, 40)} is not a date` });
      return;
    }
    parsedAny = true;
    const clean = v as Record<string, unknown>;
    const name = typeof l.data.event === 'string' ? l.data.event : '';
    if (name && !KNOWN.has(name)) {
      unknown[name] = (unknown[name] ?? 0) + 1;
      return;
    }
    events.push({ name, e: clean, t, level: levelOf(l.data.level), n });
  });
  if (!parsedAny) {
    throw new UnreadableLog(`${file} is not a quantum-roll run log: not one line is a log event`);
  }
  return assemble(events, file, unreadable, unknown, rawLines.length);
}

function assemble(
  events: Array<{ name: string; e: Record<string, unknown>; t: number; level: string; n: number }>,
  file: string,
  unreadable: ReportModel['unreadable'],
  unknown: Record<string, number>,
  lineCount: number,
): ReportModel {
  const parts: RunPart[] = [];
  let runId: string | null = null;
  let initiator: string | null = null;
  let configFile: string | null = null;
  let command: string | null = null;
  let waves: string[][] = [];
  let planEta: Record<string, { expected_ms: number; max_ms: number }> | undefined;
  const eta: ReportModel['eta'] = { basis: null, node_expected_ms: null, node_max_ms: null, waves: [] };
  let outcomeEta: Record<string, StepEta[]> | undefined;
  let lastEnd: Ev<'run.end'>['outcome'] | undefined;
  const bars: StepBar[] = [];
  const open = new Map<string, StepBar>();
  const nodeStatus = new Map<string, NodeModel['status']>();
  const waveOf = new Map<string, number>();
  const sessionsAtDrain = new Map<string, number>();
  const quiesce = new Map<string, Quiesce>();
  const canary: CanaryCheck[] = [];
  const leadership = new Map<string, Leadership>();
  const issues: Issue[] = [];
  const seenNodes: string[] = [];
  const see = (n: string | null | undefined) => {
    if (n && !waveOf.has(n) && !seenNodes.includes(n)) seenNodes.push(n);
  };
  const q = (node: string): Quiesce => {
    let x = quiesce.get(node);
    if (!x) quiesce.set(node, (x = { node, disconnects: [], paces: [], cohort: null, samples: [] }));
    return x;
  };
  const lead = (node: string): Leadership => {
    let x = leadership.get(node);
    if (!x) leadership.set(node, (x = { node, away: null, back: null }));
    return x;
  };
  const runningStep = (node: string | null | undefined): string | null => {
    if (!node) return null;
    for (const b of open.values()) if (b.node === node) return b.step;
    return null;
  };
  const closeOpen = (t: number) => {
    for (const b of open.values()) {
      b.end = Math.max(b.start, t);
      b.outcome = 'unfinished';
    }
    open.clear();
  };
  let last = 0;
  let first = Number.POSITIVE_INFINITY;

  for (const { name, e, t, level, n } of events) {
    first = Math.min(first, t);
    last = Math.max(last, t);
    const schema = (EVENTS as Record<string, z.ZodType>)[name];
    let ev: Record<string, unknown> = e;
    if (schema) {
      const r = schema.safeParse(e);
      if (!r.success) {
        unreadable.push({ line: n, reason: `event ${name}: ${firstIssue(r.error)}` });
        continue;
      }
      ev = r.data as Record<string, unknown>;
    }
    const part = Math.max(0, parts.length - 1);
    switch (name as EventName | '') {
      case 'run.log': {
        const x = ev as Ev<'run.log'>;
        // A new process of the run: what the previous one left running never finished.
        closeOpen(t);
        runId ??= x.run_id;
        configFile ??= x.config_file ?? null;
        parts.push({ t, argv: x.argv ?? [], pid: x.pid ?? null, end: null, status: null, exit_code: null });
        break;
      }
      case 'run.plan': {
        const x = ev as Ev<'run.plan'>;
        initiator = x.initiator ?? initiator;
        if (x.waves.length) waves = x.waves;
        if (x.eta) {
          eta.basis = x.eta.basis ?? null;
          eta.node_expected_ms = x.eta.node_expected_ms ?? null;
          eta.node_max_ms = x.eta.node_max_ms ?? null;
          planEta = x.eta.steps;
        }
        break;
      }
      case 'run.end': {
        const x = ev as Ev<'run.end'>;
        closeOpen(t);
        const o = x.outcome;
        lastEnd = o;
        runId ??= x.run_id ?? null;
        command = o.run_command ?? command;
        configFile = o.config_file ?? configFile;
        const p = parts.at(-1);
        if (p) Object.assign(p, { end: t, status: o.status ?? null, exit_code: o.exit_code ?? null });
        if (o.waves?.length && o.waves.every((w) => w.nodes)) {
          if (!waves.length) waves = o.waves.map((w) => w.nodes!);
          eta.waves = o.waves.map((w) => ({ expected_ms: w.expected_ms ?? 0, max_ms: w.max_ms ?? 0 }));
        }
        if (o.nodes) {
          outcomeEta = {};
          for (const [id, nd] of Object.entries(o.nodes)) if (nd.waits?.length) outcomeEta[id] = nd.waits.map((w) => ({ step: w.step, expected_ms: w.expected_ms, max_ms: w.max_ms }));
        }
        break;
      }
      case 'lease.acquired':
        initiator ??= (ev as Ev<'lease.acquired'>).holder ?? null;
        break;
      case 'wave.start': {
        const x = ev as Ev<'wave.start'>;
        if (typeof x.wave === 'number') for (const id of x.nodes) waveOf.set(id, x.wave);
        break;
      }
      case 'step.start': {
        const x = ev as Ev<'step.start'>;
        see(x.node);
        if (typeof x.wave === 'number') waveOf.set(x.node, x.wave);
        const key = `${x.node}\u0000${x.step}`;
        const prev = open.get(key);
        if (prev) Object.assign(prev, { end: t, outcome: 'unfinished' });
        const b: StepBar = { node: x.node, step: x.step, wave: x.wave ?? null, part, start: t, end: t, outcome: 'unfinished', summary: '', waits: [] };
        open.set(key, b);
        bars.push(b);
        nodeStatus.set(x.node, 'running');
        break;
      }
      case 'step.done':
      case 'step.failed': {
        const x = ev as Ev<'step.done'> & { err?: string | null };
        see(x.node);
        const key = `${x.node}\u0000${x.step}`;
        let b = open.get(key);
        open.delete(key);
        const duration = x.duration_ms ?? 0;
        if (!b) {
          // a step.start the log does not hold (a debug-level dry run, a log cut at its start)
          b = { node: x.node, step: x.step, wave: x.wave ?? null, part, start: t - duration, end: t, outcome: 'unfinished', summary: '', waits: [] };
          bars.push(b);
        }
        b.end = Math.max(b.start, t);
        b.outcome = name === 'step.done' ? 'done' : 'failed';
        b.summary = scrub(String((name === 'step.done' ? x.summary : x.err) ?? ''));
        if (name === 'step.failed') {
          nodeStatus.set(x.node, 'failed');
          issues.push({ t, level: 'error', node: x.node, step: x.step, message: b.summary, next: nextOf(b.summary) });
        }
        break;
      }
      case 'wait': {
        const x = ev as Ev<'wait'>;
        if (x.node && x.step) open.get(`${x.node}\u0000${x.step}`)?.waits.push({ t, detail: scrub(x.detail ?? '') });
        break;
      }
      case 'node.done': {
        const x = ev as Ev<'node.done'>;
        nodeStatus.set(x.node, x.status === 'done' ? 'done' : x.status === 'failed' ? 'failed' : x.status === 'skipped' ? 'skipped' : 'running');
        break;
      }
      case 'drain.start': {
        const x = ev as Ev<'drain.start'>;
        if (typeof x.sessions === 'number') sessionsAtDrain.set(x.node, x.sessions);
        break;
      }
      case 'canary.round_trip':
      case 'canary.failed': {
        const x = ev as Ev<'canary.round_trip'> & Partial<Ev<'canary.failed'>>;
        const node = x.node ?? null;
        canary.push({
          node: node ?? '(front door)',
          step: x.step ?? null,
          t,
          target: x.target,
          endpoint: x.endpoint ?? null,
          ok: name === 'canary.round_trip',
          connect_ms: x.connect_ms ?? null,
          delivery_ms: x.delivery_ms ?? null,
          detail: name === 'canary.failed' ? scrub([x.kind, x.detail].filter(Boolean).join(': ')) : null,
        });
        break;
      }
      case 'canary.drain_enforced':
      case 'canary.drain_not_enforced': {
        const x = ev as Ev<'canary.drain_enforced'> & { detail?: string | null };
        canary.push({
          node: x.node ?? '?',
          step: 'drain',
          t,
          target: 'drained node refuses CONNECT',
          endpoint: x.endpoint ?? null,
          ok: name === 'canary.drain_enforced',
          connect_ms: null,
          delivery_ms: null,
          detail: scrub(String((name === 'canary.drain_enforced' ? x.how : x.detail) ?? '')),
        });
        break;
      }
      case 'leader_transfer.done': {
        const x = ev as Ev<'leader_transfer.done'>;
        lead(x.node).away = { t, moved: x.moved, via: x.via ?? null };
        break;
      }
      case 'leaders.restored': {
        const x = ev as Ev<'leaders.restored'>;
        lead(x.node).back = { t, moved: x.moved, planned: x.planned ?? null, led_before: x.led_before ?? null, refused: x.refused ?? 0, timed_out: x.timed_out ?? 0, enabled: x.enabled !== false };
        break;
      }
      case 'quiesce.disconnect': {
        const x = ev as Ev<'quiesce.disconnect'>;
        q(x.node).disconnects.push({ t, phase: x.phase ?? null, requested: x.requested, rate_per_s: x.rate_per_s ?? null, limit: x.limit ?? null, reason_code: x.reason_code ?? null });
        break;
      }
      case 'quiesce.pace': {
        const x = ev as Ev<'quiesce.pace'>;
        q(x.node).paces.push({ t, rate_per_s: x.rate_per_s, previous_rate_per_s: x.previous_rate_per_s ?? null, reason: scrub(x.reason ?? '') });
        break;
      }
      case 'quiesce.cohort': {
        const x = ev as Ev<'quiesce.cohort'>;
        q(x.node).cohort = { t, size: x.size, returned: x.returned, ok: x.ok, bound_ms: x.bound_ms ?? null };
        break;
      }
      case 'sessions.sample': {
        const x = ev as Ev<'sessions.sample'>;
        q(x.node).samples.push({ t, phase: x.phase ?? 'quiesce', sessions: x.sessions, disconnected: x.disconnected ?? 0, requested: x.requested ?? 0, rate_per_s: x.rate_per_s ?? null });
        break;
      }
      default:
        break;
    }
    // Warnings and failures, whatever event carries them (step.failed is recorded above, with its step).
    if ((level === 'warn' || level === 'error' || level === 'fatal') && name !== 'step.failed' && name !== 'run.end') {
      const node = typeof ev.node === 'string' ? ev.node : null;
      const message = scrub(String(ev.msg ?? name ?? ''));
      issues.push({ t, level: level === 'warn' ? 'warn' : 'error', node, step: (typeof ev.step === 'string' ? ev.step : null) ?? runningStep(node), message, next: nextOf(message) });
    }
  }
  // Whatever is still open when the log ends never finished (interrupted, killed, or still running).
  closeOpen(last);
  // Samples are drawn in time order, whatever order the lines came in (a log merged or appended to).
  for (const x of quiesce.values()) x.samples.sort((a, b) => a.t - b.t);

  // The run's end: the last process's outcome, if it wrote one.
  const lastPart = parts.at(-1);
  const ended = lastPart?.end != null;
  const status = ended ? (lastPart.status ?? 'unknown') : 'unfinished';
  const exitCode = ended ? lastPart.exit_code : null;
  const err = ended && lastEnd ? (lastEnd.error ?? (lastEnd.message ? { message: lastEnd.message, next: lastEnd.next } : null)) : null;
  let next: string | null = err?.next ?? (err?.message ? nextOf(err.message) : null);
  if (!next && (status === 'failed' || status === 'interrupted' || status === 'unfinished') && bars.length) next = 'quantum-roll resume';
  if (err?.message) {
    // the failure that ended the run carries its next command: give it to the matching issue
    for (const i of issues) if (i.level === 'error' && i.node === (err.node ?? null) && i.step === (err.step ?? null) && !i.next) i.next = next;
  }
  if (!ended && parts.length) issues.push({ t: last, level: 'error', node: null, step: null, message: `the log ends at ${new Date(last).toISOString()} without the run's end: the run was interrupted, killed, or is still running`, next: 'quantum-roll resume (if no quantum-roll process runs)' });

  // Nodes, in wave order, then any the log names without a wave.
  if (!waves.length) {
    const byWave = new Map<number, string[]>();
    for (const [id, w] of waveOf) byWave.set(w, [...(byWave.get(w) ?? []), id]);
    waves = [...byWave.entries()].sort((a, b) => a[0] - b[0]).map(([, ids]) => ids);
  }
  const ordered = [...waves.flat(), ...seenNodes.filter((id) => !waves.some((w) => w.includes(id)))];
  const waveIndex = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((id) => waveIndex.set(id, i + 1)));
  const nodes: NodeModel[] = [...new Set(ordered)].map((id) => ({
    id,
    wave: waveIndex.get(id) ?? waveOf.get(id) ?? null,
    status: nodeStatus.get(id) ?? 'pending',
    bars: bars.filter((b) => b.node === id),
    eta: outcomeEta?.[id] ?? (planEta ? Object.entries(planEta).map(([step, x]) => ({ step, ...x })) : []),
    sessionsAtDrain: sessionsAtDrain.get(id) ?? null,
  }));
  if (!eta.waves.length && eta.node_expected_ms != null) eta.waves = waves.map(() => ({ expected_ms: eta.node_expected_ms!, max_ms: eta.node_max_ms ?? 0 }));

  return scrubDeep({
    run_id: runId ?? file.replace(/^.*\//, '').replace(/\.ndjson$/, ''),
    file,
    initiator: initiator ? scrub(initiator) : null,
    config_file: configFile,
    command: command ?? (parts[0]?.argv.length ? `quantum-roll ${parts[0].argv.join(' ')}` : null),
    started: Number.isFinite(first) ? first : 0,
    ended: last,
    status,
    exit_code: exitCode,
    next,
    error: err?.message ? { message: scrub(err.message), node: err.node ?? null, step: err.step ?? null } : null,
    parts,
    waves,
    nodes,
    eta,
    quiesce: [...quiesce.values()],
    canary,
    leadership: [...leadership.values()],
    issues,
    unreadable,
    unknown,
    lines: lineCount,
  });
}
