/**
 * Two V8 flags set from inside, once, just before the first connection pool is made
 * (issue 21; figures in BENCHMARKS.md). Late on purpose: set at start-up, a flag change
 * throws away the code cache of Node's built-ins (≈ 11 ms); set here, every chunk of
 * the command has already loaded.
 *
 * - `--liftoff-only`, Node 20 only: after the first request V8 11.3 tiers undici's
 *   wasm HTTP parser (llhttp) up with TurboFan in the background, and the process exit
 *   waits for that compile (+80–90 ms and +35 MB on `plan node-3`). Liftoff's code is
 *   what runs until then anyway. Node 22 and later do not hold the exit for it.
 * - `--semi-space-growth-factor=1`, Node 20 and 22: the young generation stays at its
 *   start size instead of doubling for the allocation rate of reading 100,000 PRGs
 *   (`plan --all`'s peak 188 → 142 MB on Node 20, 191 → 161 MB on 22).
 *   `--max-semi-space-size` has no effect once the heap is set up; this one does.
 *
 * Node warns that flags set after start-up "may result in unpredictable behavior": both
 * are guarded by the versions they were measured on, and test/integration/v8-flags.test.ts
 * runs the CLI with and without them (same output, same exit code).
 * `QUANTUM_ROLL_LATE_V8_FLAGS=0` turns them off.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags for a Node version (`process.versions.node`), in the order they are set. */
export function lateV8FlagsFor(nodeVersion: string): string[] {
  const major = Number(nodeVersion.split('.')[0]);
  const flags: string[] = [];
  if (major === 20) flags.push('--liftoff-only');
  if (major === 20 || major === 22) flags.push('--semi-space-growth-factor=1');
  return flags;
}

let applied: string[] | undefined;

/** Sets the flags once per process (later calls do nothing); returns those set. */
export function applyLateV8Flags(env: NodeJS.ProcessEnv = process.env): string[] {
  if (applied) return applied;
  applied = env.QUANTUM_ROLL_LATE_V8_FLAGS === '0' ? [] : lateV8FlagsFor(process.versions.node);
  for (const f of applied) setFlagsFromString(f);
  return applied;
}
