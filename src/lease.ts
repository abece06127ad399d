/**
 * The maintenance lease (invariant 2): taken before the first change, renewed in
 * the background at a third of its TTL, released at the end of every run. A lost
 * lease asks the run to stop at its next safe point.
 */
import type { Logger } from 'pino';
import type { ControlPlaneClient } from './clients/control-plane.js';
import { isConflict } from './clients/control-plane.js';
import { HttpError } from './errors.js';
import type { StopController } from './stop.js';

export const LEASE_NAME = 'rolling-restart';

export interface HeldLease {
  name: string;
  holder: string;
  token: string;
}

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private held: HeldLease | undefined;
  private lastRenewed = 0;

  constructor(
    private readonly cp: ControlPlaneClient,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly stop: StopController,
  ) {}

  get lease(): HeldLease | undefined {
    return this.held;
  }

  /** Takes the lease, or takes over our own journalled lease by renewing with its token. */
  async acquire(holder: string, previous?: HeldLease | null): Promise<HeldLease> {
    if (previous) {
      try {
        await this.cp.renewLease(previous.name, previous.token, this.ttlMs);
        this.held = previous;
        this.log.info({ event: 'lease.takeover', holder: previous.holder }, 'took over the journalled lease');
        this.startRenewing();
        return previous;
      } catch (err) {
        if (!isConflict(err) && !(err instanceof HttpError && err.status === 404)) throw err;
        // lost or expired: fall through to a fresh acquisition
      }
    }
    const l = await this.cp.acquireLease(LEASE_NAME, holder, this.ttlMs);
    this.held = { name: l.name, holder, token: l.token };
    this.log.info({ event: 'lease.acquired', holder, expires_at: l.expires_at }, 'maintenance lease acquired');
    this.startRenewing();
    return this.held;
  }

  private startRenewing(): void {
    this.lastRenewed = Date.now();
    const every = Math.max(100, Math.floor(this.ttlMs / 3));
    const tick = async () => {
      const held = this.held;
      if (!held) return;
      try {
        await this.cp.renewLease(held.name, held.token, this.ttlMs, { deadline: this.lastRenewed + this.ttlMs - 50 });
        this.lastRenewed = Date.now();
      } catch (err) {
        if (isConflict(err) || Date.now() - this.lastRenewed >= this.ttlMs) {
          this.log.error({ event: 'lease.lost', err: String(err) }, 'maintenance lease lost');
          this.held = undefined;
          this.stop.request('lease_lost', `the maintenance lease "${held.name}" was lost (renewal refused: ${(err as Error).message})`);
          return;
        }
        this.log.warn({ event: 'lease.renew_retry', err: String(err) }, 'lease renewal failed; retrying');
      }
      if (this.held) this.timer = setTimeout(tick, every).unref();
    };
    this.timer = setTimeout(tick, every).unref();
  }

  /** Releases the lease; never throws (a failure is logged: it expires by TTL anyway). */
  async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    try {
      await this.cp.releaseLease(held.name, held.token, { deadline: Date.now() + 5_000 });
      this.log.info({ event: 'lease.released' }, 'maintenance lease released');
    } catch (err) {
      this.log.warn({ event: 'lease.release_failed', err: String(err) }, `could not release the lease; it expires in ${this.ttlMs} ms`);
    }
  }

  /** Stops renewing without releasing (hard exit: resume takes it over by token). */
  abandon(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

