#!/usr/bin/env node
// `npm run fuzz [-- --seed N] [--runs N]`: the fuzzed boundaries of test/fuzz (config
// loader, every CP/node/LB response parser, the HAProxy parsers) with ≥ 10,000 generated
// inputs per target and a seed, new each run unless given; the seed is printed first so a
// finding can be replayed with `--seed`. Exit status: vitest's (non-zero on a finding).
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const seed = Number(arg('seed') ?? randomInt(1, 2 ** 31 - 1));
const runs = Number(arg('runs') ?? 10_000);
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: npm run fuzz [-- --seed <integer>] [--runs <integer>]');
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, ${runs} inputs per target (replay: npm run fuzz -- --seed ${seed} --runs ${runs})`);
const started = Date.now();
const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/fuzz'], {
  stdio: 'inherit',
  env: { ...process.env, QR_FUZZ_SEED: String(seed), QR_FUZZ_RUNS: String(runs) },
});
console.log(`fuzz: seed ${seed}, ${runs} inputs per target: ${r.status === 0 ? 'no finding' : 'FINDING (see above)'} in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(r.status ?? 1);
