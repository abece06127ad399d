/**
 * The maintenance lease (invariant 2): taken before the first change, renewed in
 * the background at a third of its TTL, released at the end of every run. A lost
 * lease asks the run to stop at its next safe point.
 */
import type { Logger } from '../util/log.js';
import type { ControlPlaneClient } from '../clients/control-plane.js';
import { isConflict } from '../clients/control-plane.js';
import { HttpError, LeaseHeldError } from '../util/errors.js';
import type { StopController } from '../util/stop.js';

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

  /**
   * A read-only look before anything is sent that changes something: a lease held by
   * someone other than our own journalled run refuses the run (exit 4) at once.
   */
  async refuseIfHeld(previous?: HeldLease | null): Promise<void> {
    const info = await this.cp.lease(LEASE_NAME);
    if (info && info.holder !== previous?.holder) throw new LeaseHeldError(info.holder, info.expires_at);
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
        if (this.held !== held) return; // released meanwhile
        if (isConflict(err) || Date.now() - this.lastRenewed >= this.ttlMs) {
          this.log.error({ event: 'lease.lost', err: String(err) }, 'maintenance lease lost');
          this.held = undefined;
          const why = isConflict(err) ? `the control plane refused its renewal: ${(err as Error).message}` : `it could not be renewed within its ${this.ttlMs} ms TTL: ${(err as Error).message}`;
          this.stop.request('lease_lost', `the maintenance lease "${held.name}" was lost (${why})`);
          return;
        }
        this.log.warn({ event: 'lease.renew_retry', err: String(err) }, 'lease renewal failed; retrying');
      }
      if (this.held) this.timer = setTimeout(tick, every).unref();
    };
    this.timer = setTimeout(tick, every).unref();
  }

  /**
   * Releases the lease; never throws. `released`; `none` when nothing was held or it
   * was no longer ours (a 409); `failed` when the CP did not answer (it expires by TTL,
   * and the journalled token lets `resume` take it over before that).
   */
  async release(): Promise<'released' | 'none' | 'failed'> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const held = this.held;
    this.held = undefined;
    if (!held) return 'none';
    try {
      await this.cp.releaseLease(held.name, held.token, { deadline: Date.now() + 5_000 });
      this.log.info({ event: 'lease.released' }, 'maintenance lease released');
      return 'released';
    } catch (err) {
      if (isConflict(err)) {
        this.log.warn({ event: 'lease.release_conflict', err: String(err) }, 'the lease was no longer ours at release');
        return 'none';
      }
      this.log.warn({ event: 'lease.release_failed', err: String(err) }, `could not release the lease; it expires in ${this.ttlMs} ms`);
      return 'failed';
    }
  }

  /**
   * Releases a journalled lease this process never took over (a resumed run that had
   * nothing left to change): a 409 means it is not ours any more, which is fine.
   */
  async releaseJournalled(previous: HeldLease): Promise<'released' | 'none' | 'failed'> {
    try {
      await this.cp.releaseLease(previous.name, previous.token, { deadline: Date.now() + 5_000 });
      this.log.info({ event: 'lease.released', journalled: true }, 'journalled maintenance lease released');
      return 'released';
    } catch (err) {
      if (isConflict(err)) return 'none';
      this.log.warn({ event: 'lease.release_failed', err: String(err) }, 'could not release the journalled lease; it expires by itself');
      return 'failed';
    }
  }
}

