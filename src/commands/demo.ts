/**
 * `demo`: start the bundled simulator in a temp dir (real MQTT brokers, a real HAProxy
 * in front when `haproxy` is installed), show the cluster and the plan, roll every node
 * (`restart --all --parallel auto`) while MQTT clients publish through the front door,
 * then print the roll's outcome and the client-impact report, write the roll's HTML report
 * (`report`) outside the simulator's temp dir and print its path, and stop the simulator.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { LoadReport } from '../sim/load/index.js';
import type { GlobalOptions } from './session.js';
import { colorFor, painter } from '../render/style.js';

export async function demoAction(opts: GlobalOptions & { nodes?: string; clients?: string }): Promise<number> {
  const { startSim, readSimJson } = await import('../sim/index.js');
  const { findHaproxy } = await import('../sim/haproxy.js');
  const load = await import('../sim/load/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'quantum-roll-demo-'));
  const nodes = Number(opts.nodes ?? 3);
  const clients = Number(opts.clients ?? 100);
  const { bold } = painter(colorFor(process.stderr));
  const say = (t: string) => process.stderr.write(`\n${bold(`== ${t}`)}\n`);
  const haproxy = findHaproxy() !== undefined;
  say(`starting a simulated cluster: ${nodes} nodes, 3 racks, 600 PRGs, ${haproxy ? 'a real HAProxy in front' : 'no HAProxy'} (state in ${dir})`);
  const sim = await startSim({ stateDir: dir, nodes, racks: 3, prgs: 600, replayMs: 1000, sessionsPerNode: 0, lb: haproxy ? 'haproxy' : 'http', rawProbeMs: 0 });
  try {
    const door = load.frontDoor(undefined, readSimJson(dir));
    if (door.note) say(`note: ${door.note} (install haproxy for the front door: apt-get install -y haproxy)`);
    // Drained nodes tell MQTT 5 clients where to go: DISCONNECT 0x9C "use another server" with the front door as Server Reference.
    const cfg = parse(readFileSync(sim.configPath, 'utf8')) as { quiesce?: Record<string, unknown> };
    cfg.quiesce = {
      ...cfg.quiesce,
      grace: '1s',
      disconnect: { reason_code: 156, rate_per_s: 500, ...(door.kind === 'haproxy' ? { server_reference: load.targetLabel(door.targets[0]!) } : {}) },
    };
    writeFileSync(sim.configPath, stringify(cfg));
    // The demo is for people: off a TTY it prints the summaries, not the ndjson events (--log-level info brings them back).
    const common = { config: sim.configPath, json: opts.json, logLevel: opts.logLevel ?? 'warn', stateDir: join(dir, '.quantum-roll') };
    say('quantum-roll status');
    const { statusAction } = await import('./status.js');
    await statusAction({ ...common, json: false });
    say('quantum-roll plan --all --parallel auto');
    const { planAction, restartAction } = await import('./restart.js');
    await planAction({ ...common, json: false, all: true, parallel: 'auto' });

    let code = 0;
    let rolled = false;
    let rollError: unknown;
    let roll: Promise<void> | undefined;
    const rollNow = (): void => {
      say(`quantum-roll restart --all --parallel auto --yes   (under load: ${clients} MQTT clients through ${door.targets.map(load.targetLabel).join(', ')})`);
      roll = restartAction({ ...common, yes: true, all: true, parallel: 'auto' }).then(
        (c) => {
          code = c;
          rolled = true;
        },
        (e: unknown) => {
          rolled = true;
          rollError = e;
        },
      );
    };
    let report: LoadReport | undefined;
    if (clients > 0) {
      say(`starting ${clients} MQTT clients (2:1 MQTT 5 : 3.1.1, persistent sessions, QoS 1 to a peer)`);
      const run = await load.runLoad({
        clients,
        ratePerS: clients * 2,
        targets: door.targets,
        onSteady: rollNow,
        identifier: load.identifierFor(door),
        until: () => rolled,
        // The simulator's record: every reconnect slower than the retry timer + 1 s is explained.
        simStateDir: dir,
        drainWindows: (until) => {
          const lines = load.readCalls(join(dir, 'calls.ndjson'));
          return lines ? load.drainWindows(lines, until) : null;
        },
      });
      report = run.report;
    } else rollNow();
    await roll;
    if (rollError) throw rollError;
    const stats = await sim.stats();
    const restarted = Object.values(stats.restarts).filter((n) => n > 0).length;
    say(`simulator: ${restarted} of ${sim.nodes.length} nodes restarted; no PRG ever had more than ${stats.maxUnavailablePerPrg} replica(s) unavailable`);
    if (report) {
      say(`client impact: ${report.messages.lost === 0 ? 'nothing lost' : `${report.messages.lost} PUBACKed messages LOST`}`);
      process.stdout.write(`${load.renderReport(report)}\n`);
      if (!load.clean(report) && code === 0) code = 1;
    }
    say('quantum-roll status');
    await statusAction({ ...common, json: false });
    // The roll as a page to look at: written outside the simulator's dir (removed below).
    const { reportAction } = await import('./report.js');
    const output = join(tmpdir(), `quantum-roll-demo-${basename(dir).replace(/^quantum-roll-demo-/, '')}.html`);
    say('quantum-roll report  (the roll as one self-contained HTML page: timeline, sessions, canary, leadership)');
    await reportAction({ ...common, json: false, format: 'html', output });
    return code;
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
