/**
 * The pace of a node's eviction (issue 19): how many DISCONNECTs per second, from what
 * the rest of the cluster re-accepts. Pure: it is given observations, it answers a rate.
 *
 * **The signal is pending clients**: clients that were connected somewhere in the cluster
 * and are not now (the most sessions the cluster held during this quiesce, minus what it
 * holds now, every node counted). An evicted client is pending from its DISCONNECT until a
 * broker has answered its CONNECT; so pending counts exactly the reconnects the cluster has
 * not absorbed yet, whoever evicted them (the nodes of a wave share the brokers that take
 * their clients in, so they share the signal). emqttb, EMQ's load generator, steers its
 * connect rate by the same quantity because it "responds very fast to target overload".
 *
 * **The set point follows Little's law**: at a pace of r evictions/s, clients that each take
 * L seconds to be re-accepted keep r × L of them pending. `max_lag` is the L an operator
 * accepts (the clients' own retry timer plus a CONNACK): pending above r × max_lag means
 * clients are taking longer than that, the brokers taking them in are falling behind, and
 * evicting faster only makes the queue longer. Pending is not compared with a fixed number:
 * at the ceiling a healthy cluster holds more pending clients than at the floor.
 *
 * **The law is AIMD with an emergency stop**, not a PI controller:
 * - pending > r × max_lag (and at least 4): the pace halves, at most once per `max_lag` (the
 *   time one eviction takes to show in pending: reacting again sooner counts the same
 *   backlog twice), never below the floor;
 * - pending ≤ half of that: the pace rises by an eighth of the ceiling, at most every
 *   max_lag / 4, up to the ceiling (back from the floor in about 2 × max_lag);
 * - pending > 2 × ceiling × max_lag (twice what a healthy cluster holds at full pace): the
 *   eviction stops (a request with `limit` 0) until pending is back under the floor's set
 *   point, then resumes at the floor. This is emqttb's "SCRAM" with hysteresis.
 * - **the front door's CONNACK time** (when `canary` is configured: a CONNECT through
 *   `canary.front_door` every max_lag / 2): above its quickest of the run + max_lag / 2, a
 *   new client already waits for a broker longer than the clients' own lag allows, whatever
 *   pending says (brokers slowed by something the counts do not see: the store, the CPU, the
 *   LB). It halves the pace like lagging clients do (same spacing), and the pace does not
 *   rise while it lasts.
 * Why not PI: a PI controller needs gains tuned to the plant (the brokers' CONNECT
 * capacity, the clients' timers), and an eviction lasts a few set-point periods, too short
 * for an integral term to settle; AIMD needs none, cannot wind up, converges to a fair
 * share when nodes of a wave evict into the same brokers (as TCP's flows do), and when the
 * cluster keeps up it never leaves the ceiling, so it costs nothing.
 *
 * What it cannot do: pace an eviction shorter than `max_lag` (fewer than about ceiling ×
 * max_lag clients on the node): it is over before any feedback arrives. There the ceiling,
 * the cohort and the gate before the restart protect the clients (B6, BENCHMARKS.md).
 */

export interface PaceOptions {
  mode: 'adaptive' | 'fixed';
  /** rate_per_s: never faster */
  ceiling: number;
  /** never slower (except the emergency stop) */
  floor: number;
  /** max_lag in ms */
  maxLagMs: number;
}

/** The front door's CONNACK time now, and the quickest the run has seen (ms). */
export interface DoorSignal {
  connectMs: number;
  baselineMs: number;
}

/** The front door is slow: a new client waits more than max_lag / 2 beyond its quickest answer. */
export function doorLagging(d: DoorSignal | undefined, maxLagMs: number): boolean {
  return d !== undefined && d.connectMs > d.baselineMs + maxLagMs / 2;
}

export interface PaceChange {
  rate: number;
  previous: number;
  reason: string;
}

/** Pending clients a healthy cluster holds at `rate` (Little's law), never below 4. */
export function pendingSetPoint(rate: number, maxLagMs: number): number {
  return Math.max(4, (rate * maxLagMs) / 1000);
}

/** How much the pace rises at a time while clients keep up: an eighth of the ceiling. */
export function increaseStep(ceiling: number): number {
  return Math.max(1, Math.ceil(ceiling / 8));
}

export function defaultFloor(ceiling: number): number {
  return Math.max(1, Math.ceil(ceiling / 20));
}

export class Pacer {
  /** the pace in force, per second (0 while stopped) */
  rate: number;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private lastIncrease = Number.NEGATIVE_INFINITY;

  constructor(readonly o: PaceOptions) {
    this.rate = o.ceiling;
  }

  get stopped(): boolean {
    return this.rate === 0;
  }

  /** The emergency bound: twice what the cluster holds pending at the ceiling. */
  get emergency(): number {
    return 2 * pendingSetPoint(this.o.ceiling, this.o.maxLagMs);
  }

  /** One observation of pending clients (and the front door, when watched) at `now` (ms); a change of pace, or undefined. */
  observe(now: number, pending: number, door?: DoorSignal): PaceChange | undefined {
    if (this.o.mode === 'fixed') return undefined;
    const { ceiling, floor, maxLagMs } = this.o;
    const previous = this.rate;
    const change = (rate: number, reason: string): PaceChange | undefined => {
      if (rate === previous) return undefined;
      this.rate = rate;
      return { rate, previous, reason };
    };
    if (pending > this.emergency) {
      if (this.stopped) return undefined;
      this.lastDecrease = now;
      return change(0, `${pending} clients pending > ${Math.round(this.emergency)} (twice the ceiling's ${Math.round(this.emergency / 2)}): eviction stopped`);
    }
    if (this.stopped) {
      const resume = pendingSetPoint(floor, maxLagMs);
      if (pending > resume) return undefined;
      this.lastIncrease = now;
      return change(floor, `${pending} clients pending ≤ ${Math.round(resume)}: eviction resumes at the floor`);
    }
    const setPoint = pendingSetPoint(previous, maxLagMs);
    const slowDoor = doorLagging(door, maxLagMs);
    if (slowDoor && door && pending <= setPoint) {
      if (now - this.lastDecrease < maxLagMs || previous === floor) return undefined;
      this.lastDecrease = now;
      return change(
        Math.max(floor, Math.floor(previous / 2)),
        `front door CONNACK ${Math.round(door.connectMs)} ms > ${Math.round(door.baselineMs + maxLagMs / 2)} (its quickest ${Math.round(door.baselineMs)} ms + max_lag / 2): new clients wait, pace halved`,
      );
    }
    if (pending > setPoint) {
      if (now - this.lastDecrease < maxLagMs || previous === floor) return undefined;
      this.lastDecrease = now;
      return change(Math.max(floor, Math.floor(previous / 2)), `${pending} clients pending > ${Math.round(setPoint)} (${previous}/s × ${maxLagMs / 1000} s): clients lag, pace halved`);
    }
    if (pending <= setPoint / 2 && previous < ceiling && !slowDoor) {
      if (now - this.lastIncrease < maxLagMs / 4) return undefined;
      this.lastIncrease = now;
      return change(Math.min(ceiling, previous + increaseStep(ceiling)), `${pending} clients pending ≤ ${Math.round(setPoint / 2)}: clients keep up, pace raised`);
    }
    return undefined;
  }
}

/** The cohort: a share of the node's sessions with a floor, never more than it has. */
export function cohortSize(sessions: number, c: { share: number; min: number }): number {
  return Math.min(sessions, Math.max(c.min, Math.ceil(sessions * c.share)));
}

/** How many of `evicted` must be back for the cluster to have re-accepted them. */
export function mustReturn(evicted: number, ratio: number): number {
  return Math.max(0, Math.ceil(evicted * ratio - 1e-9));
}
