/**
 * Hosts one simulator in its own process (forked by lib.mjs with an IPC channel), so
 * the simulated CP, LB and nodes never share a thread with what is measured — as a
 * real cluster would not. Messages: {id, op, arg} → {id, ok, value | error}.
 * ops: start(options) · calls · events · setFaults(patch) · stats · cpu · stop.
 */
import process from 'node:process';
import { setImmediate } from 'node:timers';

const { startSim } = await import(new URL('../dist/sim/index.js', import.meta.url).href);
let sim;

const ops = {
  async start(opts) {
    sim = await startSim(opts);
    return { cpUrl: sim.cpUrl, lbUrl: sim.lbUrl, controlUrl: sim.controlUrl, configPath: sim.configPath, stateDir: sim.stateDir, nodes: sim.nodes };
  },
  calls: () => sim.calls(),
  events: () => sim.events(),
  setFaults: (patch) => sim.setFaults(patch),
  stats: () => sim.stats(),
  /** CPU time this process (the simulator) has used so far, in ms. */
  cpu: () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  },
  async stop() {
    if (sim) await sim.stop();
    sim = undefined;
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on('message', async ({ id, op, arg }) => {
  try {
    const value = await ops[op](arg);
    process.send({ id, ok: true, value });
  } catch (err) {
    process.send({ id, ok: false, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => {
  // The bench went away: take the simulator (and its node processes) down with us.
  Promise.resolve(sim?.stop()).finally(() => process.exit(0));
});
process.send({ ready: true });
