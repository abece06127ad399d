/**
 * `sim load`: N clients through the front door, each publishing QoS 1 messages to its
 * peer, until a duration passes, a condition holds (the roll's journal says it is over)
 * or the caller aborts; then a closed-loop final drain and the client-impact report.
 *
 * The final drain ends as soon as every client is connected, nothing is in flight and
 * every PUBACKed message has been delivered (`complete`); short of that, once every
 * client is connected, nothing is in flight and deliveries have stopped growing for
 * `quietMs` (`quiet`: what the broker still queued has arrived, the rest is lost); at
 * the latest after `drainTimeoutMs` (`timeout`).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Backoff, DEFAULT_BACKOFF, LoadClient, clock } from './client.js';
import type { Endpoints, Identifier } from './identify.js';
import { type AcceptRecord, type ClientRecord, type DrainPhase, type DrainWindow, type LoadReport, type Protocol, buildReport } from './report.js';
import { readSimRecord } from './record.js';
import { type Target, targetLabel } from './target.js';

export interface LoadOptions {
  clients: number;
  /** Total publish rate over all clients (messages/s). */
  ratePerS: number;
  targets: Target[];
  /** MQTT 5 : MQTT 3.1.1 clients (default 2:1). */
  mix?: { v5: number; v311: number };
  /** Stop after this long (ms from the first publish). */
  durationMs?: number;
  /** Polled every 100 ms while publishing: stop when it returns true. */
  until?: () => boolean | Promise<boolean>;
  signal?: AbortSignal;
  /** Bound of the final drain (default 30 s). */
  drainTimeoutMs?: number;
  /** Deliveries unchanged this long (all connected, nothing in flight) end the drain (default 1 s). */
  quietMs?: number;
  /** Bound of the initial connect of every client (default 60 s). */
  startTimeoutMs?: number;
  sessionExpiryS?: number;
  backoff?: Backoff;
  runId?: string;
  /** CONNECTs in flight at most during the start (default 50). */
  connectConcurrency?: number;
  /** Called once publishing runs. */
  onPublishing?: () => void;
  /** Called once every client has had a message PUBACKed: the load is in steady state (e.g. to start the roll). */
  onSteady?: () => void;
  /** Progress lines (every ~2 s while publishing, and at phase changes). */
  onProgress?: (line: string) => void;
  /** Finds the node behind each accepted CONNECT (HAProxy's session table, or the node port). */
  identifier?: Identifier;
  /**
   * Share (0–1) of the clients that give up for good after a refused CONNACK or a DISCONNECT
   * with a reason code, once connected (stock mqtt.js after a refusal; default 0). Spread evenly
   * over the client indexes: client i gives up when ⌊(i+1)·share⌋ > ⌊i·share⌋.
   */
  giveUpShare?: number;
  /** The simulator's state dir: its record (broker CONNECT traces, node lifecycles, drains) explains slow reconnects. */
  simStateDir?: string;
  /** Drain windows to check accepted CONNECTs against, read after the clients closed. */
  drainWindows?: (until: number) => DrainWindow[] | null | Promise<DrainWindow[] | null>;
}

export interface LoadRun {
  report: LoadReport;
  /** Client ids and topics used (all carry the run id). */
  runId: string;
  /** What every client recorded (attempts, disconnects, …), for a closer look than the report. */
  records: ClientRecord[];
}

/** The give-up clients: ⌊n·share⌋ of n, spread evenly over the indexes (and so over protocols and nodes). */
export function givesUp(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

function protocolOf(i: number, mix: { v5: number; v311: number }): Protocol {
  const cycle = mix.v5 + mix.v311;
  return i % cycle < mix.v5 ? 5 : 4;
}

/** Every PUBACKed message delivered at least once (to the receivers that did not give up)? */
function allDelivered(clients: readonly LoadClient[]): boolean {
  const n = clients.length;
  for (let i = 0; i < n; i++) {
    const sender = clients[i]!;
    const receiver = clients[(i + 1) % n]!;
    if (receiver.gaveUp) continue;
    const got = receiver.rec.received.get(i);
    for (const seq of sender.rec.acked) if (!got?.has(seq)) return false;
  }
  return true;
}

export async function runLoad(o: LoadOptions): Promise<LoadRun> {
  if (!Number.isInteger(o.clients) || o.clients < 1) throw new Error(`--clients must be a positive integer, got ${o.clients}`);
  if (!(o.ratePerS > 0)) throw new Error(`--rate must be a positive number of messages per second, got ${o.ratePerS}`);
  if (o.targets.length === 0) throw new Error('no front door to connect to');
  const runId = o.runId ?? randomBytes(3).toString('hex');
  const mix = o.mix ?? { v5: 2, v311: 1 };
  const say = o.onProgress ?? (() => undefined);
  const topic = (i: number): string => `qr-load/${runId}/${i}`;
  const share = o.giveUpShare ?? 0;
  if (!(share >= 0 && share <= 1)) throw new Error(`--give-up-share must be a number in 0..1, got ${share}`);
  const ids = identifyLoop(o.identifier);
  const clients: LoadClient[] = [];
  for (let i = 0; i < o.clients; i++) {
    clients.push(
      new LoadClient({
        index: i,
        clientId: `qrl-${runId}-${i}`,
        protocol: protocolOf(i, mix),
        targets: o.targets,
        topicIn: topic(i),
        topicOut: topic((i + 1) % o.clients),
        sessionExpiryS: o.sessionExpiryS ?? 600,
        backoff: o.backoff ?? DEFAULT_BACKOFF,
        onAccepted: ids.add,
        givesUp: givesUp(i, share),
      }),
    );
  }
  const frontDoor = o.targets.map(targetLabel);
  try {
    // 1. Connect and subscribe every client, a bounded number at a time.
    say(`load ${runId}: connecting ${o.clients} clients to ${frontDoor.join(', ')}`);
    const startBy = clock() + (o.startTimeoutMs ?? 60_000);
    let next = 0;
    const started = new Set<number>();
    const worker = async (): Promise<void> => {
      while (next < clients.length) {
        const c = clients[next++]!;
        const left = startBy - clock();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          c.start(),
          new Promise<void>((_, reject) => {
            timer = setTimeout(() => reject(new Error('start timeout')), Math.max(0, left));
          }),
        ]).finally(() => clearTimeout(timer));
        started.add(c.rec.index);
      }
    };
    const workers = Array.from({ length: Math.min(o.connectConcurrency ?? 50, clients.length) }, worker);
    const settled = await Promise.allSettled(workers);
    if (settled.some((s) => s.status === 'rejected')) {
      const missing = clients.filter((c) => !started.has(c.rec.index));
      throw new Error(
        `${missing.length} of ${o.clients} load clients did not connect and subscribe within ${o.startTimeoutMs ?? 60_000} ms through ${frontDoor.join(', ')} (e.g. ${missing
          .slice(0, 3)
          .map((c) => `${c.rec.clientId} → ${c.targetLabel}`)
          .join(', ')}); is the broker up?`,
      );
    }
    // 2. Publish at the total rate, spread over the clients with random phases.
    const interval = (1000 * o.clients) / o.ratePerS;
    const t0 = clock();
    for (const c of clients) c.startPublishing(interval, Math.random() * interval);
    say(`load ${runId}: ${o.clients} clients connected, publishing ${o.ratePerS} msg/s`);
    o.onPublishing?.();
    let lastProgress = t0;
    let steady = false;
    while (true) {
      if (!steady && clients.every((c) => c.rec.acked.size > 0)) {
        steady = true;
        say(`load ${runId}: steady (every client has had a PUBACK)`);
        o.onSteady?.();
      } else if (!steady && o.onSteady && clock() - t0 > (o.startTimeoutMs ?? 60_000)) {
        const none = clients.filter((c) => c.rec.acked.size === 0);
        throw new Error(`${none.length} of ${o.clients} load clients had no message PUBACKed within ${o.startTimeoutMs ?? 60_000} ms of publishing (e.g. ${none[0]?.rec.clientId} via ${none[0]?.targetLabel})`);
      }
      if (o.signal?.aborted) break;
      if (o.durationMs !== undefined && clock() - t0 >= o.durationMs) break;
      if (o.until && (await o.until())) break;
      if (clock() - lastProgress >= 2_000) {
        lastProgress = clock();
        say(progress(clients));
      }
      await sleep(100);
    }
    const durationMs = clock() - t0;
    for (const c of clients) c.stopPublishing();
    // 3. Final drain, closed loop.
    say(`load ${runId}: publishing stopped; draining`);
    const drain = await finalDrain(clients, o.drainTimeoutMs ?? 30_000, o.quietMs ?? 1_000);
    await ids.stop(); // the last lookups, while every client is still connected
    await Promise.all(clients.map((c) => c.close()));
    const end = clock();
    const windows = o.drainWindows ? await o.drainWindows(end) : null;
    if (o.simStateDir) await sleep(150); // the brokers write their CONNECT traces every 100 ms
    const simRecord = o.simStateDir ? readSimRecord(o.simStateDir, end) : null;
    const report = buildReport(
      clients.map((c) => c.rec),
      { frontDoor, durationMs, ratePerS: o.ratePerS, drain, drainWindows: windows, simRecord, retryTimerMs: (o.backoff ?? DEFAULT_BACKOFF).baseMs },
    );
    return { report, runId, records: clients.map((c) => c.rec) };
  } finally {
    await ids.stop();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

/** Batches accepted links and looks them up every 100 ms, while they are still connected. */
function identifyLoop(identifier: Identifier | undefined): { add: (a: AcceptRecord, l: Endpoints) => void; stop: () => Promise<void> } {
  if (!identifier) return { add: () => undefined, stop: async () => undefined };
  let queue: Array<{ a: AcceptRecord; l: Endpoints }> = [];
  let stopped = false;
  const flush = async (): Promise<void> => {
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    const found = await identifier.lookup(batch.map((b) => b.l));
    for (const b of batch) {
      const n = found.get(b.l);
      if (n) b.a.node = n;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sleep(100);
      await flush();
    }
  })();
  return {
    add: (a, l) => {
      if (!stopped) queue.push({ a, l });
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await loop;
      await flush();
    },
  };
}

function progress(clients: readonly LoadClient[]): string {
  let pub = 0;
  let acked = 0;
  let rec = 0;
  let up = 0;
  let disc = 0;
  let quit = 0;
  for (const c of clients) {
    if (c.gaveUp) quit++;
    pub += c.rec.published;
    acked += c.rec.acked.size;
    rec += c.receipts;
    if (c.connected) up++;
    disc += c.rec.disconnects.length;
  }
  return `load: ${up}/${clients.length} connected, published ${pub}, PUBACKed ${acked}, received ${rec}, disconnects ${disc}${quit ? `, gave up ${quit}` : ''}`;
}

async function finalDrain(clients: readonly LoadClient[], timeoutMs: number, quietMs: number): Promise<DrainPhase> {
  const t0 = clock();
  let lastReceipts = -1;
  let stableSince = clock();
  while (true) {
    const now = clock();
    const settled = clients.every((c) => c.gaveUp || (c.connected && c.inFlight === 0));
    const receipts = clients.reduce((s, c) => s + c.receipts, 0);
    if (receipts !== lastReceipts || !settled) {
      lastReceipts = receipts;
      stableSince = now;
    }
    if (settled && allDelivered(clients)) return { ended_by: 'complete', ms: Math.round(now - t0) };
    if (settled && now - stableSince >= quietMs) return { ended_by: 'quiet', ms: Math.round(now - t0) };
    if (now - t0 >= timeoutMs) return { ended_by: 'timeout', ms: Math.round(now - t0) };
    await sleep(50);
  }
}
