/**
 * Session samples in the shape of /work/briefs' run-log spec (`sessions.sample`, written by the
 * quiesce step once the closed-loop eviction lands), made from a real roll: every node's
 * real `active_sessions` polled 4 times a second during the roll, written into the run
 * log for each node's drain window (quiesce: until its DISCONNECT; absorb: after it, until
 * its quiesce step ended), as the quiesce step will write them.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { TestCluster } from './cli.js';

export interface Polled {
  t: number;
  sessions: Record<string, number>;
}

/** Polls every node's GET /v1/drain (its active_sessions) every 250 ms until `stop()`; returns what it saw. */
export function pollSessions(c: TestCluster): { stop: () => Promise<Polled[]> } {
  const seen: Polled[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const t = Date.now();
      const sessions: Record<string, number> = {};
      await Promise.all(
        c.sim.nodes.map(async (n) => {
          try {
            const r = await fetch(`${n.adminUrl}/v1/drain`, { signal: AbortSignal.timeout(2_000) });
            const b = (await r.json()) as { active_sessions?: number };
            if (typeof b.active_sessions === 'number') sessions[n.id] = b.active_sessions;
          } catch {
            // restarting: no answer, no point
          }
        }),
      );
      seen.push({ t, sessions });
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return seen;
    },
  };
}

/** Appends `sessions.sample` events for every quiesce window of the log; returns the nodes sampled. */
export function appendSamples(logFile: string, polled: Polled[]): string[] {
  const events = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const sampled: string[] = [];
  const lines: string[] = [];
  for (const start of events.filter((e) => e.event === 'step.start' && e.step === 'quiesce')) {
    const node = start.node as string;
    const t0 = Date.parse(start.time);
    const done = events.find((e) => e.node === node && e.step === 'quiesce' && (e.event === 'step.done' || e.event === 'step.failed') && Date.parse(e.time) >= t0);
    if (!done) continue;
    const t1 = Date.parse(done.time);
    const disconnect = events.find((e) => e.event === 'quiesce.disconnect' && e.node === node && Date.parse(e.time) >= t0 && Date.parse(e.time) <= t1);
    const td = disconnect ? Date.parse(disconnect.time) : t1;
    const requested = (disconnect?.requested as number | undefined) ?? 0;
    const rate = (disconnect ? 500 : null) as number | null;
    const window = polled.filter((p) => p.t >= t0 && p.t <= t1 + 1_000 && p.sessions[node] !== undefined);
    const first = window[0]?.sessions[node] ?? 0;
    for (const p of window) {
      const after = p.t >= td;
      lines.push(
        JSON.stringify({
          level: 'info',
          time: new Date(p.t).toISOString(),
          pid: 1,
          run_id: start.run_id,
          wave: start.wave,
          event: 'sessions.sample',
          node,
          phase: after ? 'absorb' : 'quiesce',
          sessions: p.sessions,
          disconnected: after ? Math.min(requested, Math.max(0, first - (p.sessions[node] ?? 0))) : 0,
          requested: after ? requested : 0,
          rate_per_s: after ? rate : null,
          msg: 'sessions',
        }),
      );
    }
    if (window.length) sampled.push(node);
  }
  appendFileSync(logFile, lines.map((l) => `${l}\n`).join(''));
  return sampled;
}
