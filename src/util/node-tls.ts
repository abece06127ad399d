/**
 * node:tls, loaded on first use: a start that speaks plain http never pays for it
 * (≈ 8 ms on Node 20, issue 21). Through createRequire, not `process.getBuiltinModule`,
 * which Node 22 has only from 22.3 while the engines field admits 22.0.
 */
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

let tls: typeof Tls | undefined;

export function nodeTls(): typeof Tls {
  return (tls ??= createRequire(import.meta.url)('node:tls') as typeof Tls);
}
