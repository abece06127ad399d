/**
 * A 2-run smoke of the MQTT chaos campaign (`npm run chaos -- --mqtt`; RELIABILITY.md
 * records a campaign of it): real broker processes (3 nodes, aedes + redis) behind the real
 * HAProxy, `sim load` (40 clients, MQTT 5 : 3.1.1 2:1, persistent sessions, QoS 1) through
 * the front door from before the roll to after it, and the seeded faults and signals. Every
 * invariant is checked from the simulator's record, HAProxy's Runtime API record and the
 * clients' own report: nothing PUBACKed lost, no client stranded, no CONNECT accepted while
 * draining, beside the roll's invariants. The run must report none broken, and the load must
 * have run (messages published and delivered, every client counted).
 *
 * `--all-triggers`: every fault lands when the nth node enters a step, every signal after
 * the nth step change of its invocation (both read from the journal), so what a run meets
 * depends on the order of events, not on the machine's speed. The two seeds meet, between
 * them: an HAProxy server re-enabled and every server set ready (a reload) mid-roll, the
 * Runtime API socket gone, a CP 503 storm, throttled transfers, a slow replay, and
 * SIGKILL, SIGINT (twice) and SIGTERM (once twice) of the CLI, each followed by resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCampaign } from '../support/chaos.js';

const SEEDS = [74, 84];
const CLIENTS = 40;

describe('MQTT chaos campaign smoke (2 fixed seeds, real brokers behind HAProxy, 40 clients)', { timeout: 600_000 }, () => {
  let code: number | null;
  let output = '';
  let doc: any;
  let cleanup = async (): Promise<void> => undefined;
  beforeAll(async () => {
    ({ code, output, doc, cleanup } = await runCampaign(['--mqtt', '--clients', String(CLIENTS), '--seeds', SEEDS.join(','), '--all-triggers', '--concurrency', '2']));
  }, 600_000);
  afterAll(() => cleanup());

  it('runs both seeds and finds no invariant broken: nothing lost, nobody stranded, no CONNECT accepted while draining', () => {
    expect(code, output).toBe(0);
    expect(doc.summary.runs).toBe(SEEDS.length);
    expect(doc.summary.violations, output).toEqual({});
    expect(doc.results.map((r: any) => r.seed).sort()).toEqual([...SEEDS].sort());
    expect(doc.summary.load).toMatchObject({ runs_without_report: 0, lost: 0, stranded: 0, sessions_lost: 0, accepted_while_draining: 0 });
    for (const r of doc.results) expect(r.outcome, `seed ${r.seed}`).toMatch(/^(done|failed safely \(exit [134]\))$/);
  });

  it('the load really ran through each roll, and the record had something to check', () => {
    for (const r of doc.results) {
      const l = r.load;
      expect(l, `seed ${r.seed}: ${output}`).toBeTruthy();
      expect(l.clients).toBe(CLIENTS);
      expect(l.published, `seed ${r.seed}`).toBeGreaterThan(0);
      expect(l.acked).toBeGreaterThan(0);
      expect(l.delivered).toBeGreaterThanOrEqual(l.acked);
      // The roll evicted clients, they came back, and accepted CONNECTs were checked against the drains.
      expect(l.disconnects, `seed ${r.seed}`).toBeGreaterThan(0);
      expect(l.accepts_checked).toBeGreaterThan(0);
      expect(l.connect_traces).toBeGreaterThan(CLIENTS);
      // The orchestrator's HAProxy commands went through the recording proxy (drain, ready…).
      expect(l.lb_commands, `seed ${r.seed}`).toBeGreaterThan(0);
    }
  });

  it('actually injected faults and interrupted the CLI', () => {
    const kinds = new Set(doc.results.flatMap((r: any) => r.applied));
    expect(kinds.size, JSON.stringify(doc.summary.faults)).toBeGreaterThanOrEqual(3);
    const signals = doc.results.flatMap((r: any) => r.invocations.filter((i: any) => i.sent).map((i: any) => i.sent));
    expect(signals.length, JSON.stringify(signals)).toBeGreaterThanOrEqual(2);
    expect(doc.results.filter((r: any) => r.invocations.some((i: any) => i.cmd === 'resume')).length).toBeGreaterThanOrEqual(1);
  });
});
