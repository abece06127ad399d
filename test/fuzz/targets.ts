/**
 * Fuzzed boundaries (issue 20, item 7): the properties that every input crossing a
 * boundary must keep, over generated inputs (fast-check). Each bad input is a clear
 * error naming the key or field — never an uncaught exception, never "a bug in
 * quantum-roll" (the internal-error path) — and a good one parses.
 *
 * - the config loader (`parseConfig`): mutations of a valid config at every key path
 *   (another value of any JSON type, the key removed, an unknown key added) and
 *   arbitrary text;
 * - every CP, node and LB (HTTP pool API) response parser, through the real clients
 *   against a real local HTTP server that answers the generated body: mutations of a
 *   valid answer at every field, any JSON, and text that is not JSON;
 * - the HAProxy Runtime API parsers (`show servers state`, `show stat`): mutated
 *   answers and arbitrary text.
 *
 * `test/fuzz/boundaries.test.ts` runs them; `npm run fuzz` (scripts/fuzz.mjs) runs them
 * with ≥ 10,000 inputs per target and a printed seed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { HttpClient } from '../../src/clients/http.js';
import { RuntimeClient } from '../../src/clients/runtime.js';
import { HttpLbAdapter } from '../../src/adapters/lb/http.js';
import { UnexpectedAnswer, parseServersState, parseStatCsv } from '../../src/adapters/lb/haproxy/parse.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, InternalError, ProtocolError, QrError } from '../../src/util/errors.js';

// ---- inputs ---------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value (objects' keys, arrays' indexes), the root included. */
function pathsOf(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

/** A deep copy of `v` with the value at `path` replaced (or removed, or given an extra key beside it). */
function mutateAt(v: Json, path: (string | number)[], how: 'set' | 'remove' | 'add', value: Json, extraKey: string): Json {
  const copy = structuredClone(v);
  if (path.length === 0) return how === 'set' ? value : copy;
  let cur: any = copy;
  for (const k of path.slice(0, -1)) cur = cur[k];
  const last = path[path.length - 1]!;
  if (how === 'remove') {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else if (how === 'add' && !Array.isArray(cur)) {
    Object.defineProperty(cur, extraKey, { value, enumerable: true, configurable: true, writable: true });
  } else cur[last] = value;
  return copy;
}

/** Values that break parsers: every JSON type, odd numbers and strings, ids that are not. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  fc.constantFrom<Json>(
    null, true, false, 0, -1, -0.5, 1.5, 1e308, -1e308, 2 ** 53, 'x', '', ' ', 'node-1;reboot', '../etc', 'NaN', '1e2',
    '2026-13-45T99:99:99Z', [], {}, [null], { __proto__: null } as unknown as Json, 'a'.repeat(5000),
  ),
);

const oddKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'));

/** A body near a valid one: one mutation at one of its paths. */
export function nearly(sample: Json): fc.Arbitrary<Json> {
  const paths = pathsOf(sample);
  return fc
    .record({ i: fc.nat({ max: paths.length - 1 }), how: fc.constantFrom('set', 'set', 'remove', 'add'), value: nasty, key: oddKey })
    .map(({ i, how, value, key }) => mutateAt(sample, paths[i]!, how as 'set' | 'remove' | 'add', value, key));
}

/** An answer's text: near the valid one (mostly), any JSON, or text that is not JSON. */
export function answerText(sample: Json): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: nearly(sample).map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: fc.jsonValue().map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: nearly(sample).map((j) => JSON.stringify(j).slice(0, -1)) },
  );
}

// ---- the config loader --------------------------------------------------------

export const VALID_CONFIG: Json = {
  control_plane: { url: 'http://127.0.0.1:7443', request_timeout: '10s' },
  node_api: {},
  nodes: { 'node-1': { admin_url: 'http://127.0.0.1:9001', lb_member: 'node-1', mqtt_endpoint: '127.0.0.1:1883' } },
  lb: { adapter: 'http', url: 'http://127.0.0.1:8080', pool: 'mqtt', timeout: '30s' },
  restart: { command: ['systemctl', 'restart', 'quantum@{node}'], timeout: '2m' },
  quiesce: { grace: '30s', target_sessions: 0, disconnect: { reason_code: 156, rate_per_s: 200, server_reference: 'mqtt-b.internal:8883' } },
  checks: { min_prgs_ready_ratio: 0.99, session_recovery_ratio: 0.9 },
  timeouts: { leader_transfer: '60s', ready: '5m', lb: '30s', recovery: '0s' },
  leader_transfer: { concurrency: 64, batch_max_parallel: 64, restore: true },
  lease: { ttl: '30s' },
  logs: { keep: 50 },
  canary: { front_door: '127.0.0.1:1883', topic_prefix: '$quantum-roll/canary', timeout: '5s', protocol: 5, check_drain: true },
};

/** A config text: the valid one mutated (as YAML or JSON), or arbitrary text. */
export const configText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: nearly(VALID_CONFIG).map((j) => stringify(j)) },
  { weight: 2, arbitrary: nearly(VALID_CONFIG).map((j) => JSON.stringify(j)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

/**
 * The loader's property: a config loads, or fails with a ConfigError (exit 2) whose every
 * problem names its key path — only a file that is not a mapping at all, or not YAML,
 * has a problem without one. Throws (fails the property) otherwise.
 */
export function checkConfig(text: string, file: string): void {
  try {
    parseConfig(text, file, {});
  } catch (err) {
    if (!(err instanceof ConfigError) || err instanceof InternalError) throw new Error(`not a ConfigError: ${String((err as Error)?.stack ?? err)}`, { cause: err });
    const problems = (err.details.evidence as { problems?: { path: string; message: string }[] } | undefined)?.problems ?? [];
    if (problems.length === 0) throw new Error(`a ConfigError without problems: ${err.message}`, { cause: err });
    for (const p of problems) {
      const fileLevel = /^not valid YAML or JSON|^expected a mapping of keys at the top level/.test(p.message);
      if (!p.path && !fileLevel) throw new Error(`a problem that names no key: ${p.message}`, { cause: err });
      if (!p.message || /a bug in quantum-roll/i.test(p.message)) throw new Error(`an unclear problem at ${p.path}: "${p.message}"`, { cause: err });
    }
  }
}

// ---- response parsers -------------------------------------------------------------

/** A real local HTTP server answering every request with the body (and status) set last. */
export class AnswerServer {
  private server: http.Server | undefined;
  status = 200;
  text = '';
  url = '';
  requests = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.requests++;
        res.writeHead(this.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(this.text) });
        res.end(this.text);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

export interface Clients {
  cp: ControlPlaneClient;
  node: RuntimeClient;
  lb: HttpLbAdapter;
  close(): Promise<void>;
}

export function clientsOf(url: string): Clients {
  const opts = { baseUrl: url, requestTimeoutMs: 5_000, retryBudgetMs: 0 };
  const cp = new ControlPlaneClient(opts);
  const node = new RuntimeClient('node-1', opts);
  const lbHttp = new HttpClient({ ...opts, system: 'LB', configKey: 'lb' });
  const lb = new HttpLbAdapter(lbHttp, 'mqtt');
  return { cp, node, lb, close: async () => void (await Promise.all([cp.http.close(), node.http.close(), lbHttp.close()])) };
}

const T = '2026-11-26T05:41:02Z';
const ctl = () => ({ retry: false, deadline: Date.now() + 5_000 });
const lbTarget = { node: 'node-1', member: 'node-1', adminUrl: 'http://127.0.0.1:9001' };
const cpStatus = { leader: 'cp-1', term: 7, healthy: true, members: [{ id: 'cp-1', healthy: true }, { id: 'cp-2', healthy: true }] };
const prgItem = {
  id: 'prg-0007', tenant: 'acme', leader: 'node-3', strict_fallback: false, commit_index: 88123,
  replicas: [
    { node: 'node-3', role: 'leader', state: 'healthy', match_index: 88123 },
    { node: 'node-1', role: 'follower', state: 'healthy', match_index: 88123 },
    { node: 'node-5', role: 'follower', state: 'lagging', match_index: 87001 },
  ],
};

/** One response parser: a valid answer to mutate, the status it comes with, and the call that parses it. */
export interface ResponseTarget {
  name: string;
  sample: Json;
  status: number;
  call: (c: Clients) => Promise<unknown>;
}

export const RESPONSE_TARGETS: ResponseTarget[] = [
  { name: 'CP GET /readyz (200)', sample: cpStatus, status: 200, call: (c) => c.cp.readyz(ctl()) },
  { name: 'CP GET /readyz (503 verdict)', sample: { ...cpStatus, leader: null, healthy: false }, status: 503, call: (c) => c.cp.readyz(ctl()) },
  {
    name: 'CP GET /v1/cluster/state',
    sample: {
      cp: cpStatus, routing_epoch: 42,
      nodes: [{ id: 'node-1', admin_url: 'https://node-1.internal:9443', mqtt_endpoint: 'node-1.internal:8883', rack: 'r1', zone: 'z1', state: 'up', last_heartbeat_ms: 310 }],
      prgs: { total: 1200, ready: 1200, strict_fallback: 0 },
      placement: { policy: 'one_replica_per_rack', violations: 0 },
    },
    status: 200,
    call: (c) => c.cp.clusterState(ctl()),
  },
  { name: 'CP GET /v1/prgs (items)', sample: { items: [prgItem, { ...prgItem, id: 'prg-0008', leader: null }], next_cursor: null }, status: 200, call: (c) => c.cp.listPrgs({}, ctl()) },
  { name: 'CP GET /v1/prgs (ids)', sample: { items: [prgItem], next_cursor: null }, status: 200, call: (c) => c.cp.listPrgIds({ leader: 'node-3' }, ctl()) },
  { name: 'CP GET /v1/features', sample: { batch_leader_transfer: true }, status: 200, call: (c) => c.cp.features(ctl()) },
  { name: 'CP POST /v1/prgs/{id}/leader-transfer', sample: { prg_id: 'prg-0007', from: 'node-3', to: 'node-1' }, status: 202, call: (c) => c.cp.transferLeader('prg-0007', { exclude: ['node-3'] }, ctl()) },
  {
    name: 'CP POST /v1/leader-transfers',
    sample: { id: 'lt-17', state: 'running', total: 118, done: 0, failed: [] },
    status: 202,
    call: (c) => c.cp.startBatchTransfer({ away_from: 'node-3', max_parallel: 64 }, ctl()),
  },
  {
    name: 'CP GET /v1/leader-transfers/{id}',
    sample: { id: 'lt-17', state: 'failed', total: 2, done: 1, failed: [{ prg_id: 'prg-0001', error: { code: 'no_eligible_target', message: 'none' } }] },
    status: 200,
    call: (c) => c.cp.batchTransfer('lt-17', ctl()),
  },
  { name: 'CP POST /v1/leases (201)', sample: { name: 'rolling-restart', holder: 'qr@h:1/r', token: 'b7e1', expires_at: T }, status: 201, call: (c) => c.cp.acquireLease('rolling-restart', 'qr@h:1/r', 30_000, ctl()) },
  {
    name: 'CP POST /v1/leases (409 lease_held)',
    sample: { error: { code: 'lease_held', message: 'held' }, holder: 'ops@bastion:1', expires_at: T },
    status: 409,
    call: (c) => c.cp.acquireLease('rolling-restart', 'qr@h:1/r', 30_000, ctl()),
  },
  { name: 'CP GET /v1/leases/{name}', sample: { name: 'rolling-restart', holder: 'qr@h:1/r', expires_at: T }, status: 200, call: (c) => c.cp.lease('rolling-restart', ctl()) },
  {
    name: 'node GET /readyz',
    sample: {
      ready: false, node_id: 'node-3', reasons: ['draining', 'prgs_replaying'], draining: true,
      cp_cache: { fresh: true, age_ms: 180, routing_epoch: 42 },
      prgs: { total: 120, ready: 97, replaying: 23, strict_fallback: 0 },
      replay: { progress: 0.81 },
      listeners: [{ name: 'mqtt-tls', port: 8883, accepting: false, active_sessions: 1412, max_sessions: 50000 }],
    },
    status: 503,
    call: (c) => c.node.readyz(ctl()),
  },
  { name: 'node GET /v1/node', sample: { node_id: 'node-3', version: '1.14.2', boot_id: '6f1c0c2e', started_at: T }, status: 200, call: (c) => c.node.node(ctl()) },
  {
    name: 'node PUT /v1/drain',
    sample: { draining: true, since: T, reason: 'rolling-restart', initiator: 'qr@h:1/r', active_sessions: 1412 },
    status: 200,
    call: (c) => c.node.drain('rolling-restart', 'qr@h:1/r', ctl()),
  },
  { name: 'node DELETE /v1/drain', sample: { draining: false, since: null, reason: null, initiator: null, active_sessions: 0 }, status: 200, call: (c) => c.node.undrain(ctl()) },
  { name: 'node POST /v1/sessions/disconnect', sample: { requested: 1412 }, status: 202, call: (c) => c.node.disconnect({ reason_code: 156, rate_per_s: 200 }, ctl()) },
  {
    name: 'LB GET /v1/pools/{pool}/members/{member}',
    sample: { member: 'node-3', address: '10.0.0.13:8883', admin_state: 'enabled', health: 'up', active_connections: 1412 },
    status: 200,
    call: (c) => c.lb.status(lbTarget, { deadline: Date.now() + 5_000 }),
  },
  {
    name: 'error body (400)',
    sample: { error: { code: 'invalid_body', message: 'bad' } },
    status: 400,
    call: (c) => c.node.drainStatus(ctl()),
  },
];

/**
 * A response parser's property: the call resolves, or rejects with the tool's own error
 * (never an InternalError, a TypeError…); a ProtocolError names the failing field (or
 * says the body is not JSON, or names the listing's cursor).
 */
export async function checkResponse(t: ResponseTarget, c: Clients): Promise<void> {
  try {
    await t.call(c);
  } catch (err) {
    if (!(err instanceof QrError) || err instanceof InternalError) throw new Error(`${t.name}: not the tool's own error: ${String((err as Error)?.stack ?? err)}`, { cause: err });
    if (err instanceof ProtocolError && !/field "[^"]+"|body is not JSON/.test(err.message)) throw new Error(`${t.name}: a protocol error naming no field: ${err.message}`, { cause: err });
    if (/a bug in quantum-roll/i.test(err.message)) throw new Error(`${t.name}: ${err.message}`, { cause: err });
  }
}

// ---- HAProxy Runtime API parsers ---------------------------------------------------

export const SERVERS_STATE = [
  '1',
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
  '3 mqtt 1 node-1 127.0.0.1 2 0 1 1 3 15 3 4 6 0 0 0 - 1883 - 0 0 - - 0',
  '3 mqtt 2 node-2 127.0.0.1 2 8 1 1 3 15 3 4 6 0 0 0 - 1884 - 0 0 - - 0',
].join('\n');

export const SHOW_STAT = [
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,',
  'mqtt,node-1,0,0,12,40,,300,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,30,0,,1,3,1,,300,,2,0,,5,L4OK,',
  'mqtt,node-2,0,0,0,40,,300,0,0,,0,,0,0,0,0,"DRAIN, x",1,1,0,0,0,30,0,,1,3,2,,300,,2,0,,5,"* L4OK",',
].join('\n');

/** Near a valid answer: lines dropped, duplicated or replaced, characters changed; or arbitrary text. */
export function haproxyText(valid: string): fc.Arbitrary<string> {
  const lines = valid.split('\n');
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({ i: fc.nat({ max: lines.length - 1 }), how: fc.constantFrom('drop', 'dup', 'replace', 'cut'), s: fc.string({ maxLength: 80 }), at: fc.nat({ max: 300 }) })
        .map(({ i, how, s, at }) => {
          const l = [...lines];
          if (how === 'drop') l.splice(i, 1);
          else if (how === 'dup') l.splice(i, 0, l[i]!);
          else if (how === 'replace') l[i] = s;
          else l[i] = l[i]!.slice(0, at) + s + l[i]!.slice(at);
          return l.join('\n');
        }),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
  );
}

/** The HAProxy parsers' property: rows, or an UnexpectedAnswer (which the adapter names with socket and command); nothing else. */
export function checkHaproxy(parse: (text: string) => unknown, text: string): void {
  try {
    parse(text);
  } catch (err) {
    if (!(err instanceof UnexpectedAnswer)) throw new Error(`not an UnexpectedAnswer: ${String((err as Error)?.stack ?? err)}`, { cause: err });
    if (!err.message) throw new Error('an UnexpectedAnswer that says nothing', { cause: err });
  }
}

export const HAPROXY_TARGETS = [
  { name: 'HAProxy show servers state', valid: SERVERS_STATE, parse: parseServersState },
  { name: 'HAProxy show stat', valid: SHOW_STAT, parse: parseStatCsv },
];
