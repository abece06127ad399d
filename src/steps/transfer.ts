/**
 * Moving PRG leadership off nodes: the CP's batch endpoint when it has one, else
 * per-PRG transfers through an adaptive window bounded by
 * `leader_transfer.concurrency`, cut to what the CP was serving when it answers 503
 * and grown back on success. Completion is what the CP shows, not what it accepted:
 * the wait ends when the node leads no PRG.
 */
import { HttpError, StepError } from '../util/errors.js';
import type { ControlPlaneClient, TransferTarget } from '../clients/control-plane.js';
import type { BatchTransfer } from '../clients/schemas.js';
import { isConflict } from '../clients/control-plane.js';
import type { StopController } from '../util/stop.js';
import { type WaitTimeout, waitFor } from '../util/wait.js';

export interface TransferOptions {
  node: string;
  /** Nodes that must not receive leadership (the node itself is always excluded). */
  exclude: readonly string[];
  deadline: number;
  /** What the deadline means to the caller (its own error); WaitTimeout without it. */
  onTimeout?: (timeout: WaitTimeout) => never;
  concurrency: number;
  batchMaxParallel: number;
  stop?: StopController;
  onProgress?: (text: string) => void;
  /** The PRGs the node leads, as first read (before anything moves). */
  onLed?: (ids: string[]) => void;
}

export interface TransferOutcome {
  moved: string[];
  via: 'batch' | 'per-prg' | 'none';
}

export async function transferLeadersAway(cp: ControlPlaneClient, o: TransferOptions): Promise<TransferOutcome> {
  // Two independent reads: one round trip instead of two.
  const [ids, { batch }] = await Promise.all([cp.listPrgIds({ leader: o.node }, { deadline: o.deadline }), cp.features({ deadline: o.deadline })]);
  o.onLed?.(ids);
  if (ids.length === 0) return { moved: [], via: 'none' };
  const exclude = o.exclude.filter((n) => n !== o.node);
  let via: TransferOutcome['via'] = 'per-prg';
  let perPrgIds = ids;
  if (batch) {
    let started: BatchTransfer | undefined;
    try {
      started = await cp.startBatchTransfer(
        { away_from: o.node, ...(exclude.length ? { exclude } : {}), max_parallel: o.batchMaxParallel },
        { deadline: o.deadline },
      );
    } catch (err) {
      if (!lostAnswer(err)) throw err;
      // The CP may have started the batch: it is not posted again (a second batch; retry-policy.ts). What the
      // node still leads is read, and moved per PRG (idempotent: a PRG already moved answers from == to).
      o.onProgress?.(`the batch transfer's answer was lost (${(err as Error).message}); moving what ${o.node} still leads per PRG`);
      perPrgIds = await cp.listPrgIds({ leader: o.node }, { deadline: o.deadline });
    }
    if (started) {
      via = 'batch';
      let seen = started;
      const end = await waitFor(
        async () => {
          const b = (seen = await cp.batchTransfer(started.id, { deadline: o.deadline }));
          o.onProgress?.(`batch ${b.id}: ${b.done}/${b.total} moved`);
          return b.state === 'running' ? undefined : b;
        },
        {
          deadline: o.deadline,
          what: `batch leader transfer ${started.id} away from ${o.node}`,
          initialMs: 10,
          maxMs: 200,
          onTimeout: o.onTimeout,
          progress: () => (seen.total > 0 ? (seen.done + seen.failed.length) / seen.total : undefined),
        },
      );
      if (end.failed.length) throw transferFailures(o.node, end.failed.map((f) => ({ prg: f.prg_id, code: f.error.code, message: f.error.message })));
    }
  }
  if (via === 'per-prg' && perPrgIds.length > 0) {
    const { failures } = await perPrg(cp, perPrgIds, { exclude: exclude.length ? [o.node, ...exclude] : [o.node] }, o);
    if (failures.length) throw transferFailures(o.node, failures);
  }
  await waitFor(
    async () => {
      const still = await cp.listPrgIds({ leader: o.node }, { deadline: o.deadline });
      o.onProgress?.(`${still.length} PRGs still led by ${o.node}`);
      return still.length === 0 ? true : undefined;
    },
    { deadline: o.deadline, what: `the control plane to show ${o.node} leading no PRG`, initialMs: 10, maxMs: 200, onTimeout: o.onTimeout },
  );
  return { moved: ids, via };
}

/** Where the window starts; it doubles per round trip until the first 503 or the ceiling. */
const INITIAL_WINDOW = 16;

/** Progress of the transfers is told at most this often (a reporter shows it once a second at most). */
const PROGRESS_MS = 100;

/** A cut keeps at most this share of the window, even when the estimate says more. */
const DECREASE = 0.9;

/**
 * Per-PRG transfers through an adaptive window, sized to what the CP accepts:
 * - slow start: below `threshold` the window grows by one per success (doubling every
 *   round trip), never above `o.concurrency` (the ceiling);
 * - a 503 (or 429) means the CP was full while this request was one of `sentWith + 1`
 *   of ours in flight. The window drops to `sentWith` (the CP's capacity as just
 *   observed, never below 1), and to at most 90 % of itself: `sentWith` overstates the
 *   CP's share when answers wait unread in our own queue (a busy client), and only a
 *   multiplicative cut is sure to converge then. From there it grows by 1/window per
 *   success (one extra request per round trip probes for room). One cut per round
 *   trip: a 503 for a request sent before the last cut was already accounted for.
 *   After a deep cut (the CP busy with others) the threshold stays at half the old
 *   window, so slow start regrows quickly once the CP has room again;
 * - the rejected PRG goes back to the front of the queue and is sent again as soon as
 *   one of ours completes, so the CP's own pace clocks the retries; only when none of
 *   ours is in flight does it wait, with exponential backoff and jitter.
 * A CP serving N at once runs at 90–100 % of N, with about one 503 per ten round trips;
 * with the ceiling at or below N, at N with none.
 */
type Failure = { prg: string; code: string; message: string };

async function perPrg(
  cp: ControlPlaneClient,
  ids: string[],
  target: TransferTarget,
  o: Pick<TransferOptions, 'deadline' | 'concurrency' | 'onProgress' | 'stop'>,
  /** lenient: the deadline or a stop request ends it with the PRGs not sent yet (no error) */
  lenient = false,
): Promise<{ failures: Failure[]; unsent: string[] }> {
  const failures: Failure[] = [];
  const queue = [...ids];
  const ceiling = Math.max(1, o.concurrency);
  let limit = Math.min(ceiling, INITIAL_WINDOW);
  let threshold = ceiling;
  /** Bumped by every cut; a request remembers the epoch it was sent in. */
  let epoch = 0;
  /** The CP refused a request sent in `sentEpoch` while `estimate` of ours were in flight. */
  const cut = (estimate: number, sentEpoch: number) => {
    if (sentEpoch !== epoch) return;
    const next = Math.max(1, Math.min(estimate, Math.ceil(limit * DECREASE) - 1));
    threshold = Math.max(next, Math.floor(limit / 2));
    limit = next;
    epoch++;
  };
  let inFlight = 0;
  let done = 0;
  let said = 0;
  let idleBackoff = 0;
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      if (timer) clearTimeout(timer);
      reject(err);
    };
    const pump = () => {
      if (failed || timer) return;
      if (queue.length === 0 && inFlight === 0) return resolve();
      if (lenient && (Date.now() >= o.deadline || o.stop?.requested)) {
        // What is in flight is answered (or given up) by its own deadline; nothing more is sent.
        if (inFlight === 0) return resolve();
        return;
      }
      while (inFlight < Math.floor(limit) && queue.length) {
        if (Date.now() >= o.deadline) return fail(new StepError(`leader transfer of ${queue[0]} did not get through before the deadline`));
        const id = queue.shift()!;
        const sentWith = inFlight++;
        one(id, sentWith, epoch).then(
          (again) => {
            inFlight--;
            if (again && inFlight === 0) later();
            else pump();
          },
          (err) => fail(err),
        );
      }
    };
    /** Nothing of ours in flight clocks a retry: wait a little, then pump again. */
    const later = () => {
      if (timer || failed) return;
      idleBackoff = Math.min(1_000, idleBackoff ? idleBackoff * 2 : 25);
      timer = setTimeout(() => {
        timer = undefined;
        pump();
      }, Math.min(idleBackoff * (0.5 + Math.random() / 2), Math.max(0, o.deadline - Date.now())));
    };
    /** One transfer request; true when the PRG went back to the queue to be sent again. */
    const one = async (id: string, sentWith: number, sentEpoch: number): Promise<boolean> => {
      try {
        await cp.transferLeader(id, target, { deadline: o.deadline, retry: false });
      } catch (err) {
        if (err instanceof HttpError && (err.status === 503 || err.status === 429)) {
          cut(sentWith, sentEpoch);
          queue.unshift(id);
          return true;
        }
        if (err instanceof HttpError && err.status === undefined) {
          // Connection trouble: halve what was in flight (one cut per burst, like a 503).
          cut(Math.floor(sentWith / 2), sentEpoch);
          queue.unshift(id);
          return true;
        }
        if (isConflict(err) || (err instanceof HttpError && err.status === 404)) {
          failures.push({ prg: id, code: (err as HttpError).code ?? String((err as HttpError).status), message: (err as Error).message });
          return false;
        }
        if (lenient && err instanceof HttpError && Date.now() >= o.deadline) {
          queue.unshift(id); // its own deadline ended it: counted as not done in time
          return true;
        }
        throw err;
      }
      done++;
      idleBackoff = 0;
      limit = Math.min(ceiling, limit < threshold ? limit + 1 : limit + 1 / limit);
      const now = Date.now();
      if (o.onProgress && (done === ids.length || now - said >= PROGRESS_MS)) {
        said = now;
        o.onProgress(`${done}/${ids.length} transfers accepted`);
      }
      return false;
    };
    pump();
  });
  return { failures, unsent: queue };
}

/** What moving leadership back to a node came to. */
export interface RestoreOutcome {
  /** the PRGs it leads again */
  moved: string[];
  /** refused by the CP (409: no longer an eligible target, no leader) */
  refused: string[];
  /** not done within the deadline (or not sent before a stop request) */
  timedOut: string[];
  stopped: boolean;
}

/**
 * Moves leadership of `ids` to `node` (per-PRG `{"to": node}` through the same
 * adaptive window), then waits until the CP shows it leading them. Never throws for
 * a refusal or the deadline: those are counted. A stop request ends it at once.
 */
export async function transferLeadersTo(cp: ControlPlaneClient, node: string, ids: readonly string[], o: Pick<TransferOptions, 'deadline' | 'concurrency' | 'onProgress' | 'stop'>): Promise<RestoreOutcome> {
  if (ids.length === 0) return { moved: [], refused: [], timedOut: [], stopped: false };
  const { failures, unsent } = await perPrg(cp, [...ids], { to: node }, o, true);
  const refused = new Set(failures.map((f) => f.prg));
  const notSent = new Set(unsent);
  const sent = ids.filter((id) => !refused.has(id) && !notSent.has(id));
  let led = new Set<string>();
  if (sent.length > 0 && !o.stop?.requested) {
    await waitFor(
      async () => {
        led = new Set(await cp.listPrgIds({ leader: node }, { deadline: o.deadline }));
        const back = sent.filter((id) => led.has(id)).length;
        o.onProgress?.(`${back}/${sent.length} PRGs led by ${node} again`);
        return back === sent.length || o.stop?.requested ? true : undefined;
      },
      { deadline: o.deadline, what: `the control plane to show ${node} leading its PRGs again`, initialMs: 10, maxMs: 200, onTimeout: () => true },
    ).catch(() => true);
  }
  const moved = sent.filter((id) => led.has(id));
  const timedOut = ids.filter((id) => !refused.has(id) && !led.has(id));
  return { moved, refused: [...refused], timedOut, stopped: o.stop?.requested === true };
}

/** No answer that says what the CP did: the connection failed or timed out, or a proxy or a busy CP answered instead. */
function lostAnswer(err: unknown): boolean {
  return err instanceof HttpError && (err.status === undefined || err.status === 429 || err.status >= 500);
}

function transferFailures(node: string, failures: Array<{ prg: string; code: string; message: string }>): StepError {
  const shown = failures.slice(0, 20).map((f) => `  ${f.prg}: ${f.code}`);
  if (failures.length > 20) shown.push(`  … and ${failures.length - 20} more`);
  return new StepError(
    `leadership could not be moved off ${node} for ${failures.length} PRG(s):\n${shown.join('\n')}\nNo eligible healthy follower outside the excluded nodes; ${node} was not drained.`,
    { node, step: 'leader-transfer', evidence: { failures }, next: `check the followers of these PRGs (quantum-roll status), then quantum-roll resume` },
  );
}
