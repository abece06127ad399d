// Entry of a detached supervisor started by `quantum-roll sim start`:
//   node dist/sim/supervisor-main.js --options '<SimOptions JSON>'
// Runs until SIGTERM/SIGINT or `POST /_sim/stop`; its node children exit with it.
import { parseArgs } from 'node:util';
import { startSim } from './supervisor.js';
import type { SimOptions } from './types.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { options: { type: 'string' } } });
  if (!values.options) throw new Error('--options is required');
  const opts = JSON.parse(values.options) as SimOptions;
  const token = process.env.QUANTUM_ROLL_SIM_TOKEN;
  if (token) opts.token = token;
  delete process.env.QUANTUM_ROLL_SIM_TOKEN;
  const sim = await startSim(opts);
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void sim.stop().finally(() => process.exit(0));
  };
  sim.onShutdown(() => process.exit(0));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdout.write(
    `quantum-roll sim ready: cp=${sim.cpUrl} lb=${sim.lbUrl} control=${sim.controlUrl} config=${sim.configPath}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`supervisor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
