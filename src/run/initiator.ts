/**
 * Who a run is, as the lease and the journal name it: host, process and run id. Its own
 * module so that opening a session (commands/session.ts) does not load the roll.
 */
import { hostname } from 'node:os';

export function initiatorFor(runId: string): string {
  return `quantum-roll@${hostname()}:${process.pid}/${runId}`;
}
