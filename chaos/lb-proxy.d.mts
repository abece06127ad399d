/** Types of chaos/lb-proxy.mjs, for the tests that exercise it. */
export interface RuntimeRecord {
  t: number;
  t_end?: number;
  cmd: string;
  answer?: string;
  error?: string;
  by?: string;
}
export function startLbProxy(path: string, upstream: string): Promise<{ record: RuntimeRecord[]; unreachable(on: boolean): Promise<void>; stop(): Promise<void> }>;
export function runtimeCommand(socket: string, cmd: string, timeoutMs?: number): Promise<string>;
export function adminStates(text: string): Record<string, 'enabled' | 'draining' | 'disabled'>;
export function lbRecordAsCalls(record: RuntimeRecord[], backend?: string): { calls: Array<Record<string, unknown>>; events: Array<Record<string, unknown>> };
