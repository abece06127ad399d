/**
 * Moving PRG leadership off nodes: the CP's batch endpoint when it has one, else
 * per-PRG transfers with bounded concurrency that halves on 503 (the CP is
 * saturated) and grows back on success. Completion is what the CP shows, not what
 * it accepted: the wait ends when the node leads no PRG.
 */
import { HttpError, StepError } from './errors.js';
import type { ControlPlaneClient } from './clients/control-plane.js';
import { isConflict } from './clients/control-plane.js';
import { sleep } from './clients/http.js';
import type { StopController } from './stop.js';
import { waitFor } from './wait.js';

export interface TransferOptions {
  node: string;
  /** Nodes that must not receive leadership (the node itself is always excluded). */
  exclude: readonly string[];
  deadline: number;
  concurrency: number;
  batchMaxParallel: number;
  stop?: StopController;
  onProgress?: (text: string) => void;
}

export interface TransferOutcome {
  moved: string[];
  via: 'batch' | 'per-prg' | 'none';
}

export async function transferLeadersAway(cp: ControlPlaneClient, o: TransferOptions): Promise<TransferOutcome> {
  const led = await cp.listPrgs({ leader: o.node }, { deadline: o.deadline });
  if (led.length === 0) return { moved: [], via: 'none' };
  const exclude = o.exclude.filter((n) => n !== o.node);
  const ids = led.map((p) => p.id);
  const { batch } = await cp.features({ deadline: o.deadline });
  let via: TransferOutcome['via'] = 'per-prg';
  if (batch) {
    const started = await cp.startBatchTransfer(
      { away_from: o.node, ...(exclude.length ? { exclude } : {}), max_parallel: o.batchMaxParallel },
      { deadline: o.deadline, retry: false },
    );
    if (started) {
      via = 'batch';
      const end = await waitFor(
        async () => {
          const b = await cp.batchTransfer(started.id, { deadline: o.deadline });
          o.onProgress?.(`batch ${b.id}: ${b.done}/${b.total} moved`);
          return b.state === 'running' ? undefined : b;
        },
        { deadline: o.deadline, what: `batch leader transfer ${started.id} away from ${o.node}`, initialMs: 10, maxMs: 200 },
      );
      if (end.failed.length) throw transferFailures(o.node, end.failed.map((f) => ({ prg: f.prg_id, code: f.error.code, message: f.error.message })));
    }
  }
  if (via === 'per-prg') await perPrg(cp, ids, exclude.length ? [o.node, ...exclude] : [o.node], o);
  await waitFor(
    async () => {
      const still = await cp.listPrgs({ leader: o.node }, { deadline: o.deadline });
      o.onProgress?.(`${still.length} PRGs still led by ${o.node}`);
      return still.length === 0 ? true : undefined;
    },
    { deadline: o.deadline, what: `the control plane to show ${o.node} leading no PRG`, initialMs: 10, maxMs: 200 },
  );
  return { moved: ids, via };
}

async function perPrg(cp: ControlPlaneClient, ids: string[], exclude: string[], o: TransferOptions): Promise<void> {
  const failures: Array<{ prg: string; code: string; message: string }> = [];
  const queue = [...ids];
  let limit = Math.max(1, o.concurrency);
  let inFlight = 0;
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (queue.length === 0 && inFlight === 0) return resolve();
      while (inFlight < Math.floor(limit) && queue.length) {
        const id = queue.shift()!;
        inFlight++;
        one(id).then(
          () => {
            inFlight--;
            pump();
          },
          (err) => reject(err),
        );
      }
    };
    const one = async (id: string) => {
      for (;;) {
        if (Date.now() >= o.deadline) throw new StepError(`leader transfer of ${id} did not get through before the deadline`);
        try {
          await cp.transferLeader(id, { exclude }, { deadline: o.deadline, retry: false });
          done++;
          limit = Math.min(o.concurrency, limit + 1 / limit);
          o.onProgress?.(`${done}/${ids.length} transfers accepted`);
          return;
        } catch (err) {
          if (err instanceof HttpError && (err.status === 503 || err.status === 429)) {
            limit = Math.max(1, limit / 2);
            await sleep(5 + Math.random() * 20);
            continue;
          }
          if (err instanceof HttpError && err.status === undefined) {
            await sleep(25);
            continue;
          }
          if (isConflict(err) || (err instanceof HttpError && err.status === 404)) {
            failures.push({ prg: id, code: (err as HttpError).code ?? String((err as HttpError).status), message: (err as Error).message });
            return;
          }
          throw err;
        }
      }
    };
    pump();
  });
  if (failures.length) throw transferFailures(o.node, failures);
}

function transferFailures(node: string, failures: Array<{ prg: string; code: string; message: string }>): StepError {
  const shown = failures.slice(0, 20).map((f) => `  ${f.prg}: ${f.code}`);
  if (failures.length > 20) shown.push(`  … and ${failures.length - 20} more`);
  return new StepError(
    `leadership could not be moved off ${node} for ${failures.length} PRG(s):\n${shown.join('\n')}\nNo eligible healthy follower outside the excluded nodes; ${node} was not drained.`,
    { node, step: 'leader-transfer', evidence: { failures }, next: `check the followers of these PRGs (quantum-roll status), then quantum-roll resume` },
  );
}
