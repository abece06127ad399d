/**
 * The MQTT canary in the runbook (issue 12): a node is back only when a client says so.
 *
 * - Before the first change (the first precheck of the run): one round trip through the
 *   front door; a front door that cannot carry a message refuses the run (exit 3).
 * - While a node is out (after its drain): a direct CONNECT must be refused; one that is
 *   accepted is a warning (`canary.drain_not_enforced`), never a failure.
 * - After each readmit: a round trip directly to the node, then one through the front
 *   door. A node that cannot carry a message is taken back out (drained, out of the LB)
 *   and the run stops (exit 1).
 *
 * Off when `canary` is not configured; a dry run sends no MQTT traffic and lists the checks.
 */
import type { CanaryConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { MqttCanary, type RoundTrip, type RoundTripResult, describeFailure, round as roundMs } from '../clients/mqtt-canary.js';
import type { PlanContext, ReadEnv, StepContext } from './context.js';
import { RefusedError, StepError } from '../util/errors.js';

/** What the canary measured for one node (the JSON outcome's `canary`). */
export interface CanaryFigures {
  node: string;
  /** the node's own MQTT endpoint */
  endpoint: string;
  front_door: string;
  /** whole round trip directly to the node, ms */
  direct_ms: number;
  direct_connect_ms: number;
  direct_delivery_ms: number;
  /** whole round trip through the front door, ms */
  front_door_ms: number;
  front_door_connect_ms: number;
  front_door_delivery_ms: number;
}

/** What the drain probe saw: the listener refused a new CONNECT (how), or did not. */
export interface DrainProbe {
  endpoint: string;
  enforced: boolean;
  /** how it refused, or what happened instead */
  detail: string;
}

/** The canary of one run (one per run id: the front door is checked once per run). */
interface RunCanary {
  client: MqttCanary;
  frontDoor?: Promise<RoundTripResult>;
}
const runs = new Map<string, RunCanary>();

function canaryOf(env: Pick<ReadEnv, 'runId' | 'config'>): RunCanary | undefined {
  const config = env.config.canary;
  if (!config) return undefined;
  let r = runs.get(env.runId);
  if (!r) {
    if (runs.size > 16) runs.delete(runs.keys().next().value!);
    // mqtt.js loads on the client's first round trip: only when a canary is configured.
    r = { client: new MqttCanary({ config, runId: env.runId }) };
    runs.set(env.runId, r);
  }
  return r;
}

/** The node's MQTT endpoint: `nodes.<id>.mqtt_endpoint`, else what the CP reports. */
export async function mqttEndpointOf(ctx: PlanContext): Promise<string> {
  const override = ctx.env.config.nodes[ctx.node.id]?.mqtt_endpoint;
  if (override) return override;
  const state = await ctx.env.cp.clusterState();
  const me = state.nodes.find((n) => n.id === ctx.node.id);
  if (!me) throw new StepError(`the control plane no longer lists ${ctx.node.id}`, { node: ctx.node.id });
  return me.mqtt_endpoint;
}

const figures = (r: RoundTrip) => `CONNACK ${r.connect_ms} ms, delivery ${r.delivery_ms} ms`;
const ROUND_TRIP = 'CONNECT, SUBSCRIBE QoS 1, PUBLISH QoS 1, receive, DISCONNECT';

function logRoundTrip(ctx: PlanContext, target: 'front_door' | 'direct', r: RoundTripResult): void {
  const base = { target, endpoint: r.endpoint };
  if (r.ok) ctx.log.info({ event: 'canary.round_trip', ...base, connect_ms: r.connect_ms, delivery_ms: r.delivery_ms, total_ms: r.total_ms }, `canary ${target} ${r.endpoint}: ${figures(r)}`);
  else ctx.log.warn({ event: 'canary.failed', ...base, kind: r.kind, ...(r.reasonCode !== undefined ? { reason_code: r.reasonCode } : {}), detail: r.detail }, `canary ${target} failed: ${describeFailure(r)}`);
}

/**
 * The precheck's part: one round trip through the front door, once per run (the first
 * precheck makes it; the others of the run wait for the same answer). A dry run only
 * says what it would do. Throws RefusedError (exit 3) when the front door fails.
 */
export async function precheckCanary(ctx: PlanContext): Promise<{ summary?: string; actions?: string[]; front_door?: RoundTrip }> {
  const c = ctx.env.config.canary;
  const run = canaryOf(ctx.env);
  if (!c || !run) return {};
  if (ctx.env.options.dryRun) return { actions: [`MQTT canary through the front door ${c.front_door}: ${ROUND_TRIP} (≤ ${formatDuration(c.timeout)} each)`] };
  const first = run.frontDoor === undefined;
  if (first) {
    ctx.say(`canary: one MQTT round trip through the front door ${c.front_door}`);
    run.frontDoor = run.client.roundTrip(c.front_door);
  }
  const r = await run.frontDoor!;
  if (first) logRoundTrip(ctx, 'front_door', r);
  if (!r.ok) {
    throw new RefusedError(
      `precheck refused ${ctx.node.id}: the front door ${c.front_door} cannot carry a message (${describeFailure(r)}); nothing was changed.`,
      {
        node: ctx.node.id,
        step: 'precheck',
        endpoint: c.front_door,
        next: `check the front door ${c.front_door} with an MQTT client (and canary.front_door, canary.tls, the canary credentials), then run the same command again`,
        evidence: { canary: { target: 'front_door', endpoint: r.endpoint, kind: r.kind, ...(r.reasonCode !== undefined ? { reason_code: r.reasonCode } : {}), detail: r.detail } },
      },
    );
  }
  return first ? { summary: `canary via front door ${c.front_door}: ${figures(r)}`, front_door: r } : {};
}

/**
 * The front door's CONNACK time while a node's clients are evicted (issue 19): a CONNECT
 * through `canary.front_door` every `intervalMs`, one at a time, until `stop()`. `latest()`
 * is the newest answer (a CONNECT still unanswered counts with the time it has waited so
 * far), `baseline()` the quickest the run has seen (the precheck's round trip included):
 * what a new client waits when the cluster is not busy. Undefined when no canary is
 * configured; failures other than a slow answer are logged once and not counted.
 */
export interface FrontDoorWatch {
  latest(): number | undefined;
  baseline(): number | undefined;
  endpoint: string;
  stop(): void;
}

export function watchFrontDoor(ctx: StepContext, intervalMs: number): FrontDoorWatch | undefined {
  const c = ctx.env.config.canary;
  const run = canaryOf(ctx.env);
  if (!c || !run) return undefined;
  let best: number | undefined;
  let last: number | undefined;
  let inFlightSince: number | undefined;
  let stopped = false;
  let warned = false;
  void run.frontDoor?.then((r) => {
    if (r.ok) best = Math.min(best ?? r.connect_ms, r.connect_ms);
  });
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const began = Date.now();
      inFlightSince = performance.now();
      const r = await run.client.connectTime(c.front_door).catch(() => undefined);
      inFlightSince = undefined;
      if (stopped) return;
      if (r?.ok) {
        last = r.connect_ms;
        if (!r.timedOut) best = Math.min(best ?? r.connect_ms, r.connect_ms);
        ctx.log.info({ event: 'canary.front_door_connect', endpoint: c.front_door, connect_ms: r.connect_ms, timed_out: r.timedOut }, `front door CONNACK ${r.connect_ms} ms`);
      } else if (r && !warned) {
        warned = true;
        ctx.log.warn({ event: 'canary.failed', target: 'front_door', endpoint: c.front_door, kind: r.kind, detail: r.detail }, `front door CONNECT failed while evicting: ${describeFailure(r)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, began + intervalMs - Date.now())));
    }
  };
  void loop();
  return {
    endpoint: c.front_door,
    latest: () => (inFlightSince !== undefined ? Math.max(last ?? 0, roundMs(performance.now() - inFlightSince)) : last),
    baseline: () => best,
    stop: () => {
      stopped = true;
    },
  };
}

/** The dry run's line of the drain probe (none when off). */
export function drainCanaryActions(config: CanaryConfig | undefined, node: string): string[] {
  return config?.check_drain ? [`MQTT canary: a direct CONNECT to ${node}'s mqtt_endpoint must be refused (CONNACK 0x9C/0x88/0x89, rc 3, or a closed socket)`] : [];
}

/**
 * While the node is out (after its drain): a direct CONNECT must be refused. An accepted
 * one is a warning and `canary.drain_not_enforced`, never a failure; nor is a probe that
 * could not run.
 */
export async function drainCanary(ctx: StepContext): Promise<{ warnings: string[]; summary?: string; probe?: DrainProbe }> {
  const c = ctx.env.config.canary;
  const run = canaryOf(ctx.env);
  if (!c || !run || !c.check_drain) return { warnings: [] };
  let endpoint = ctx.node.id;
  try {
    endpoint = await mqttEndpointOf(ctx);
    ctx.say(`canary: a direct CONNECT to ${endpoint} must be refused`);
    const r = await run.client.refusesConnect(endpoint);
    if (r.refused) {
      ctx.log.info({ event: 'canary.drain_enforced', endpoint, how: r.how }, `canary: ${ctx.node.id} refused a new CONNECT (${r.how})`);
      return { warnings: [], summary: `canary: new CONNECT refused (${r.how})`, probe: { endpoint, enforced: true, detail: r.how } };
    }
    ctx.log.warn({ event: 'canary.drain_not_enforced', endpoint, detail: r.detail }, `canary: ${ctx.node.id} is drained but ${r.detail}`);
    return {
      warnings: [`${ctx.node.id} is drained but its listener ${endpoint} is not enforcing it: ${r.detail} (canary.drain_not_enforced; clients that reach it directly land on a node about to restart)`],
      summary: 'canary: drain NOT enforced by the listener',
      probe: { endpoint, enforced: false, detail: r.detail },
    };
  } catch (err) {
    const detail = `the drain probe of ${endpoint} could not run: ${(err as Error).message}`;
    ctx.log.warn({ event: 'canary.drain_not_enforced', endpoint, detail }, detail);
    return { warnings: [detail], probe: { endpoint, enforced: false, detail } };
  }
}

/** The dry run's lines of the readmit canary (none when off). */
export function readmitCanaryActions(config: CanaryConfig | undefined, node: string): string[] {
  if (!config) return [];
  return [`MQTT canary directly to ${node}'s mqtt_endpoint, then through the front door ${config.front_door}: ${ROUND_TRIP}; a node that cannot carry a message is drained and taken out of the LB again`];
}

/**
 * After the readmit: a round trip directly to the node, then one through the front
 * door. The node failing: `undo` takes it back out (drained, out of the LB) and the step
 * fails (exit 1) naming the node, the endpoint and the failure. The front door failing
 * while the node carries messages: the node stays in service (taking it out would not
 * help the front door) and the run stops before the next node.
 */
export async function readmitCanary(ctx: StepContext, undo: () => Promise<void>): Promise<{ summary?: string; canary?: CanaryFigures }> {
  const c = ctx.env.config.canary;
  const run = canaryOf(ctx.env);
  if (!c || !run) return {};
  const { node } = ctx;
  const endpoint = await mqttEndpointOf(ctx);
  const client = run.client;
  ctx.say(`canary: MQTT round trip directly to ${endpoint}`);
  const direct = await client.roundTrip(endpoint);
  logRoundTrip(ctx, 'direct', direct);
  if (!direct.ok) {
    const undone = await undo().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    ctx.log.error({ event: 'canary.readmit_undone', endpoint, kind: direct.kind, rollback_failed: undone ? undone.message : null }, `${node.id} cannot carry a message: taken back out`);
    const left = undone
      ? `Taking it back out failed too (${undone.message}): it may still be in service; check with quantum-roll status and take it out with quantum-roll drain ${node.id}.`
      : `${node.id} was drained and taken out of the LB again (restarted, ready by /readyz, but not serving).`;
    throw new StepError(
      `readmit of ${node.id}: the node is ready by /readyz and healthy in the LB, but an MQTT client cannot use it: ${describeFailure(direct)}. ${left}`,
      {
        node: node.id,
        step: 'readmit',
        endpoint,
        next: `investigate the MQTT listener of ${node.id} (${endpoint}); once a client can publish through it, run quantum-roll resume`,
        evidence: { canary: { target: 'direct', endpoint, kind: direct.kind, ...(direct.reasonCode !== undefined ? { reason_code: direct.reasonCode } : {}), detail: direct.detail }, rollback_failed: undone ? undone.message : null },
      },
    );
  }
  ctx.say(`canary: MQTT round trip through the front door ${c.front_door}`);
  const fd = await client.roundTrip(c.front_door);
  logRoundTrip(ctx, 'front_door', fd);
  if (!fd.ok) {
    throw new StepError(
      `readmit of ${node.id}: ${node.id} carries messages directly (${endpoint}: ${figures(direct)}) but the front door ${c.front_door} does not: ${describeFailure(fd)}. ${node.id} is left in service; the run stops before the next node.`,
      {
        node: node.id,
        step: 'readmit',
        endpoint: c.front_door,
        next: `check the front door ${c.front_door}; once clients get through it, run quantum-roll resume`,
        evidence: { canary: { target: 'front_door', endpoint: fd.endpoint, kind: fd.kind, ...(fd.reasonCode !== undefined ? { reason_code: fd.reasonCode } : {}), detail: fd.detail } },
      },
    );
  }
  const canary: CanaryFigures = {
    node: node.id,
    endpoint,
    front_door: c.front_door,
    direct_ms: direct.total_ms,
    direct_connect_ms: direct.connect_ms,
    direct_delivery_ms: direct.delivery_ms,
    front_door_ms: fd.total_ms,
    front_door_connect_ms: fd.connect_ms,
    front_door_delivery_ms: fd.delivery_ms,
  };
  return { summary: `canary direct ${endpoint}: ${figures(direct)}; front door ${c.front_door}: ${figures(fd)}`, canary };
}
