/** Greedy colourings of the conflict model into waves: rack by rack, and DSatur (pure). */
import { compareIds } from './quorum.js';
import type { Model } from './waves-model.js';

class Colouring {
  readonly waves: number[][] = [];
  private readonly sealed: boolean[] = [];
  readonly waveOf: Int32Array;
  /** for each node, the waves that hold one of its neighbours */
  readonly neighbourWaves: Set<number>[];

  constructor(
    private readonly model: Model,
    private readonly cap: number,
  ) {
    this.waveOf = new Int32Array(model.ids.length).fill(-1);
    this.neighbourWaves = model.ids.map(() => new Set<number>());
  }

  /** Put node `v` into the first wave at index ≥ `from` that takes it, else a new one. */
  place(v: number, from: number, sealed: boolean): number {
    let w = -1;
    if (!sealed) {
      for (let c = from; c < this.waves.length; c++) {
        if (this.fits(v, c)) {
          w = c;
          break;
        }
      }
    }
    if (w < 0) {
      w = this.waves.length;
      this.waves.push([]);
      this.sealed.push(sealed);
    }
    (this.waves[w] as number[]).push(v);
    this.waveOf[v] = w;
    for (const u of this.model.adj[v] as Int32Array) (this.neighbourWaves[u] as Set<number>).add(w);
    return w;
  }

  private fits(v: number, w: number): boolean {
    if (this.sealed[w] === true || (this.waves[w] as number[]).length >= this.cap) return false;
    if ((this.neighbourWaves[v] as Set<number>).has(w)) return false;
    // Quorum of the wave with `v` added: only PRGs touching `v` can change verdict. (With no
    // conflicting pair in a wave this cannot fail once `v` alone is fine; it is kept so that
    // the wave invariant never rests on that reasoning alone.)
    const { start, rep, healthy, needed, prgsOf } = this.model;
    for (const p of prgsOf[v] as Int32Array) {
      let h = 0;
      for (let i = start[p] as number; i < (start[p + 1] as number); i++) {
        const u = rep[i] as number;
        if (healthy[i] === 1 && u !== v && (u < 0 || this.waveOf[u] !== w)) h++;
      }
      if (h < (needed[p] as number)) return false;
    }
    return true;
  }
}

export function capOf(max: number | 'auto'): number {
  if (max === 'auto') return Infinity;
  if (!Number.isFinite(max)) return max > 0 ? Infinity : 1;
  return Math.max(1, Math.floor(max));
}

export function colourByRack(model: Model, racks: readonly string[], blocked: readonly boolean[], cap: number): number[][] {
  const c = new Colouring(model, cap);
  blocked.forEach((b, v) => {
    if (b) c.place(v, 0, true);
  });
  const members = new Map<string, number[]>();
  racks.forEach((rack, v) => {
    if (blocked[v] === true) return;
    let list = members.get(rack);
    if (list === undefined) members.set(rack, (list = []));
    list.push(v);
  });
  for (const rack of [...members.keys()].sort(compareIds)) {
    const from = c.waves.length;
    for (const v of members.get(rack) as number[]) c.place(v, from, false);
  }
  return c.waves;
}

export function colourDsatur(model: Model, blocked: readonly boolean[], cap: number): number[][] {
  const c = new Colouring(model, cap);
  const pending: number[] = []; // in id order: the final tie-break
  blocked.forEach((b, v) => {
    if (b) c.place(v, 0, true);
    else pending.push(v);
  });
  while (pending.length > 0) {
    let bi = 0;
    let bestSat = -1;
    let bestDeg = -1;
    for (let i = 0; i < pending.length; i++) {
      const v = pending[i] as number;
      const s = (c.neighbourWaves[v] as Set<number>).size;
      if (s < bestSat) continue;
      const d = (model.adj[v] as Int32Array).length;
      if (s > bestSat || d > bestDeg) {
        bi = i;
        bestSat = s;
        bestDeg = d;
      }
    }
    const v = pending[bi] as number;
    pending.splice(bi, 1);
    c.place(v, 0, false);
  }
  return c.waves;
}
