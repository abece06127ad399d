/**
 * V8 flags set from inside, once, just before the first connection pool is made
 * (issue 21; figures in BENCHMARKS.md). Late on purpose: set at start-up, a flag change
 * throws away the code cache of Node's built-ins (≈ 11 ms); set here, every chunk of
 * the command has already loaded.
 *
 * - **No TurboFan tier-up of undici's wasm HTTP parser (llhttp)**: after the first
 *   requests V8 compiles llhttp again with TurboFan in the background, and the process
 *   exit waits for that compile: +80–90 ms (and +35 MB) on Node 20's `plan node-3`,
 *   +60–110 ms on Node 22.23 and 24.21 (measured 2026-12-07; an earlier note here said
 *   Node 22 did not wait: it does). Liftoff's code is what runs until then anyway.
 *   Node 20 and 22: `--liftoff-only`. Node 24 ignores that flag once started, but not
 *   `--wasm-tiering-budget` (a budget no parser call exhausts: the same effect).
 * - `--semi-space-growth-factor=1`, Node 20 and 22: the young generation stays at its
 *   start size instead of doubling for the allocation rate of reading 100,000 PRGs
 *   (`plan --all`'s peak 188 → 142 MB on Node 20, 191 → 161 MB on 22).
 *   `--max-semi-space-size` has no effect once the heap is set up; this one does.
 *
 * Node warns that flags set after start-up "may result in unpredictable behavior": each
 * is guarded by the versions it was measured on, and test/integration/v8-flags.test.ts
 * runs the CLI with and without them (same output, same exit code).
 * `QUANTUM_ROLL_LATE_V8_FLAGS=0` turns them off.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags for a Node version (`process.versions.node`), in the order they are set. */
export function lateV8FlagsFor(nodeVersion: string): string[] {
  const major = Number(nodeVersion.split('.')[0]);
  const flags: string[] = [];
  if (major === 20 || major === 22) flags.push('--liftoff-only');
  if (major === 24) flags.push('--wasm-tiering-budget=2000000000');
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
