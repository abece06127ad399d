// Leader transfers: per-PRG (`POST /v1/prgs/{id}/leader-transfer`) and batch
// (`POST /v1/leader-transfers`). A 202 answers at once; the leader changes after
// `transferDelayMs`, and only if the target is still a healthy replica by then.
import type { ClusterModel } from './cluster-model.js';
import { error, isObject, json, type Ctx, type Reply } from './http-kit.js';

interface Batch {
  id: string;
  state: 'running' | 'done' | 'failed';
  total: number;
  done: number;
  failed: Array<{ prg_id: string; error: { code: string; message: string } }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Transfers {
  private inFlight = 0;
  private readonly batches = new Map<string, Batch>();
  private seq = 0;

  constructor(private readonly model: ClusterModel) {}

  /** A healthy follower of p not in `exclude`, preferring nodes that lead the fewest PRGs. */
  pickTarget(p: number, exclude: Set<number>): number {
    const topo = this.model.topo;
    const leader = topo.leader[p] ?? -1;
    let best = -1;
    for (let s = 0; s < topo.rf; s++) {
      const n = topo.replica(p, s);
      if (n === leader || exclude.has(n) || this.model.replicaState(p, n) !== 'healthy') continue;
      if (best < 0 || (topo.leadCount[n] ?? 0) < (topo.leadCount[best] ?? 0)) best = n;
    }
    return best;
  }

  /** Moves leadership of p to `to` after the configured delay; resolves with success. */
  private complete(p: number, to: number): Promise<boolean> {
    const f = this.model.faults();
    this.model.stats.transfersRequested++;
    if (f.transfersNeverComplete) return new Promise(() => undefined);
    return sleep(f.transferDelayMs).then(() => {
      if (this.model.faults().transfersNeverComplete) return new Promise<boolean>(() => undefined);
      if (this.model.replicaState(p, to) !== 'healthy' || !this.model.topo.hasReplica(p, to)) return false;
      const from = this.model.topo.leader[p] ?? -1;
      this.model.changeLeader(p, to, 'transfer');
      this.model.stats.transfersCompleted++;
      this.model.events.emit('transfer_done', {
        prg: this.model.topo.prgId(p),
        from: from >= 0 ? this.model.topo.nodeIds[from] : null,
        to: this.model.topo.nodeIds[to],
      });
      return true;
    });
  }

  async single(ctx: Ctx, prgId: string): Promise<Reply> {
    const f = this.model.faults();
    if (f.transferConcurrency > 0 && this.inFlight >= f.transferConcurrency) {
      return { ...error(503, 'too_many_transfers', 'too many concurrent leader transfers'), headers: { 'retry-after': Math.random() < 0.5 ? '0' : '1' } };
    }
    this.inFlight++;
    try {
      if (f.transferServiceMs > 0) await sleep(f.transferServiceMs);
      return this.decide(ctx, prgId);
    } finally {
      this.inFlight--;
    }
  }

  private decide(ctx: Ctx, prgId: string): Reply {
    const topo = this.model.topo;
    const p = topo.prgIndex(prgId);
    if (p < 0) return error(404, 'unknown_prg', `no PRG ${prgId}`);
    const b = ctx.body;
    if (!isObject(b)) return error(400, 'invalid_body', 'body must be {"to": …} or {"exclude": […]}');
    const hasTo = b.to !== undefined;
    const hasExclude = b.exclude !== undefined;
    if (hasTo === hasExclude) return error(400, 'invalid_body', 'give exactly one of "to" or "exclude"');
    if (hasTo && typeof b.to !== 'string') return error(400, 'invalid_body', '"to" must be a node id');
    if (hasExclude && (!Array.isArray(b.exclude) || !b.exclude.every((x) => typeof x === 'string'))) {
      return error(400, 'invalid_body', '"exclude" must be an array of node ids');
    }
    const from = topo.leader[p] ?? -1;
    if (from < 0) return error(409, 'no_leader', `${prgId} has no leader right now`);
    const fromId = topo.nodeIds[from] ?? '';
    const noTarget = (): Reply => error(409, 'no_eligible_target', `no healthy follower of ${prgId} qualifies`);
    let to: number;
    if (hasTo) {
      const target = topo.nodeIndex.get(b.to as string);
      if (target === from) return json(202, { prg_id: prgId, from: fromId, to: fromId });
      if (this.model.faults().noEligibleTarget || target === undefined) return noTarget();
      if (!topo.hasReplica(p, target) || this.model.replicaState(p, target) !== 'healthy') return noTarget();
      to = target;
    } else {
      const exclude = new Set<number>();
      for (const id of b.exclude as string[]) {
        const i = topo.nodeIndex.get(id);
        if (i !== undefined) exclude.add(i);
      }
      if (!exclude.has(from)) return json(202, { prg_id: prgId, from: fromId, to: fromId });
      if (this.model.faults().noEligibleTarget) return noTarget();
      to = this.pickTarget(p, exclude);
      if (to < 0) return noTarget();
    }
    void this.complete(p, to);
    return json(202, { prg_id: prgId, from: fromId, to: topo.nodeIds[to] });
  }

  batchCreate(ctx: Ctx): Reply {
    if (this.model.faults().noBatch) return error(404, 'not_found', 'no batch leader transfer endpoint');
    const topo = this.model.topo;
    const b = ctx.body;
    if (!isObject(b)) return error(400, 'invalid_body', 'body must be a JSON object');
    if (typeof b.away_from !== 'string') return error(400, 'invalid_body', '"away_from" must be a node id');
    const away = topo.nodeIndex.get(b.away_from);
    if (away === undefined) return error(404, 'unknown_node', `no node ${b.away_from}`);
    if (b.exclude !== undefined && (!Array.isArray(b.exclude) || !b.exclude.every((x) => typeof x === 'string'))) {
      return error(400, 'invalid_body', '"exclude" must be an array of node ids');
    }
    const mp = b.max_parallel ?? 64;
    if (typeof mp !== 'number' || !Number.isInteger(mp) || mp < 1 || mp > 1000) return error(400, 'invalid_body', '"max_parallel" must be an integer in 1..1000');
    const exclude = new Set<number>([away]);
    for (const id of (b.exclude as string[] | undefined) ?? []) {
      const i = topo.nodeIndex.get(id);
      if (i !== undefined) exclude.add(i);
    }
    const prgs = (topo.nodePrgs[away] ?? []).filter((p) => topo.leader[p] === away);
    const batch: Batch = { id: `lt-${++this.seq}`, state: 'running', total: prgs.length, done: 0, failed: [] };
    this.batches.set(batch.id, batch);
    this.finish(batch);
    void this.runBatch(batch, prgs, away, exclude, mp);
    return json(202, this.view(batch));
  }

  private async runBatch(batch: Batch, prgs: number[], away: number, exclude: Set<number>, parallel: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < prgs.length) {
        const p = prgs[next++] ?? 0;
        const fail = (code: string, message: string): void => {
          batch.failed.push({ prg_id: this.model.topo.prgId(p), error: { code, message } });
        };
        if (this.model.topo.leader[p] !== away) {
          batch.done++;
        } else {
          const to = this.model.faults().noEligibleTarget ? -1 : this.pickTarget(p, exclude);
          if (to < 0) fail('no_eligible_target', 'no healthy follower qualifies');
          else if (await this.complete(p, to)) batch.done++;
          else fail('transfer_failed', 'the target was no longer a healthy replica');
        }
        this.finish(batch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, Math.max(1, prgs.length)) }, () => worker()));
  }

  private finish(batch: Batch): void {
    if (batch.done + batch.failed.length === batch.total) batch.state = batch.failed.length === 0 ? 'done' : 'failed';
  }

  private view(batch: Batch): Record<string, unknown> {
    return { id: batch.id, state: batch.state, total: batch.total, done: batch.done, failed: [...batch.failed] };
  }

  batchGet(id: string): Reply {
    if (this.model.faults().noBatch) return error(404, 'not_found', 'no batch leader transfer endpoint');
    const batch = this.batches.get(id);
    if (!batch) return error(404, 'unknown_batch', `no leader transfer batch ${id}`);
    return json(200, this.view(batch));
  }
}
