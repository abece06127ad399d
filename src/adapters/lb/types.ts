/**
 * The front door, behind one interface. The pipeline never knows which adapter it
 * drives: it asks for a member's status, takes it out of service, puts it back,
 * and polls `status` until the LB itself confirms each change (closed loop).
 */
import type { Logger } from '../../util/log.js';
import type { RuntimeClient } from '../../clients/runtime.js';

export type AdminState = 'enabled' | 'draining' | 'disabled';
export type Health = 'up' | 'down' | 'unknown';

export interface MemberStatus {
  /** `enabled` takes new connections; `draining`/`disabled` take none. */
  adminState: AdminState;
  /** The LB's own health verdict for the member. */
  health: Health;
  /** Connections the LB still holds to the member, when it knows. */
  activeConnections?: number;
  /** Free-form evidence for messages (e.g. HAProxy's status column per backend). */
  detail?: string;
}

export interface LbTarget {
  node: string;
  /** The member name at the LB (HAProxy server name, pool member); the node id unless `nodes.<id>.lb_member`. */
  member: string;
  adminUrl: string;
}

export interface LbCallCtl {
  deadline?: number;
  signal?: AbortSignal;
}

export interface LbAdapter {
  readonly name: string;
  /** Where it talks to, for messages (URL, socket path, command). */
  readonly endpoint: string;
  /** Current state of the member. Must not change anything. */
  status(target: LbTarget, ctl?: LbCallCtl): Promise<MemberStatus>;
  /** Stop sending new connections to the member; existing ones stay. */
  drain(target: LbTarget, ctl?: LbCallCtl): Promise<void>;
  /** Put the member back in service. */
  enable(target: LbTarget, ctl?: LbCallCtl): Promise<void>;
  /** Release sockets/agents. */
  close(): Promise<void>;
}

export interface LbDeps {
  log: Logger;
  /** The node's admin API client (the `none` adapter reads `/readyz`). */
  runtimeFor(target: LbTarget): RuntimeClient;
  env?: NodeJS.ProcessEnv;
  /** Variables commands run by an adapter must not inherit (the configured token variables). */
  withoutEnv?: readonly string[];
}

/** No-op lifecycle defaults, so an adapter implements only what it speaks. */
export abstract class LbAdapterBase implements LbAdapter {
  abstract readonly name: string;
  abstract readonly endpoint: string;
  abstract status(target: LbTarget, ctl?: LbCallCtl): Promise<MemberStatus>;
  abstract drain(target: LbTarget, ctl?: LbCallCtl): Promise<void>;
  abstract enable(target: LbTarget, ctl?: LbCallCtl): Promise<void>;
  async close(): Promise<void> {}
}

/** Out of service for new connections, as the LB sees it. */
export function isOutOfService(s: MemberStatus): boolean {
  return s.adminState !== 'enabled';
}

/** Back in service and passing the LB's own health check. */
export function isServing(s: MemberStatus): boolean {
  return s.adminState === 'enabled' && s.health === 'up';
}
