/**
 * HAProxy, through its Runtime API (`stats socket ... level admin`). One node is a
 * server in each of `lb.backends` (one backend per listener); every call acts on all
 * of them together and reads back what HAProxy reports afterwards.
 *
 * - drain:  `set server <be>/<member> state drain` (existing sessions stay; no new ones)
 * - enable: `set server <be>/<member> state ready`, after forcing the server's health
 *   down when nothing can be hurt by it, so HAProxy routes to it again only after a
 *   health check that ran *after* the change passed (see {@link HaproxyLbAdapter.enable}).
 * - status: `show servers state <be>` (admin bits, op state) + `show stat <be> 4 -1`
 *   (status column, check result, `scur`).
 */
import { ConfigError, QrError } from '../../util/errors.js';
import { type AdminState, type Health, type LbCallCtl, type LbDeps, type LbTarget, type MemberStatus, LbAdapterBase } from './types.js';
import { HaproxyRuntime } from './haproxy/runtime.js';
import {
  ADMIN,
  ADMIN_DRAIN_MASK,
  ADMIN_MAINT_MASK,
  CHECK_STATE,
  OP,
  type ServerStateRow,
  type StatRow,
  UnexpectedAnswer,
  checkPassed,
  checkPending,
  checkStatusOf,
  parseServersState,
  parseStatCsv,
} from './haproxy/parse.js';

export interface HaproxyOptions {
  socket: string;
  backends: string[];
}

/** Characters HAProxy allows in proxy and server names; also keeps commands injection-free. */
const HAPROXY_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** What HAProxy reports for one member in one backend. */
export interface BackendEvidence {
  backend: string;
  adminBits: number;
  opState: number;
  checkState: number;
  /** `show stat` status column: UP, DOWN, DRAIN, MAINT, "UP 1/3", NOLB, "no check", ... */
  status: string;
  /** `check_status` without the in-progress marker: L7OK, L4CON, INI, ... ('' when no check) */
  checkStatus: string;
  checkDesc: string;
  sessions: number;
  health: Health;
}

export class HaproxyLbAdapter extends LbAdapterBase {
  readonly name = 'haproxy';
  readonly endpoint: string;
  private readonly rt: HaproxyRuntime;

  constructor(
    readonly opts: HaproxyOptions,
    readonly deps: LbDeps,
  ) {
    super();
    this.endpoint = opts.socket;
    if (opts.backends.length === 0) throw new ConfigError('lb.backends', 'at least one backend is required');
    for (const be of opts.backends) {
      if (!HAPROXY_NAME.test(be)) throw new ConfigError('lb.backends', `${JSON.stringify(be)} is not a HAProxy backend name`);
    }
    this.rt = new HaproxyRuntime(opts.socket);
  }

  async status(t: LbTarget, ctl: LbCallCtl = {}): Promise<MemberStatus> {
    const member = this.member(t);
    const evidence: BackendEvidence[] = [];
    for (const be of this.opts.backends) evidence.push(await this.evidence(be, member, ctl));
    return summarize(evidence);
  }

  /** Per-backend evidence, for callers that want more than {@link MemberStatus}. */
  async evidence(backend: string, member: string, ctl: LbCallCtl = {}): Promise<BackendEvidence> {
    const st = await this.serverState(backend, member, ctl);
    const stat = await this.statRow(backend, member, ctl);
    return toEvidence(backend, st, stat);
  }

  /**
   * Drains the member in every backend. First reads every backend so an unknown
   * backend or server fails before anything is changed; then reads back that HAProxy
   * set the forced-drain bit everywhere.
   */
  async drain(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    const member = this.member(t);
    const log = this.deps.log.child({ adapter: 'haproxy', socket: this.opts.socket, node: t.node, member });
    for (const be of this.opts.backends) await this.serverState(be, member, ctl);
    for (const be of this.opts.backends) await this.set(be, member, 'state drain', ctl);
    for (const be of this.opts.backends) {
      const st = await this.serverState(be, member, ctl);
      if ((st.adminState & ADMIN.FDRAIN) === 0) {
        throw this.rt.fail(
          `set server ${be}/${member} state drain`,
          `HAProxy accepted it but then reported srv_admin_state ${adminText(st.adminState)} (drain bit not set)`,
        );
      }
    }
    log.info({ backends: this.opts.backends }, 'HAProxy: member drained in every backend');
  }

  /**
   * Returns the member to service in every backend where it was forced into drain or
   * maintenance. Leaving maintenance, HAProxy shows the server UP with the check result
   * from *before* (checks were paused), and leaving drain it keeps the last result,
   * which may predate the restart. So unless the server still holds sessions (which
   * `on-marked-down shutdown-sessions` would kill), the server's health is forced down
   * first (maint → drain → health down → ready): HAProxy then routes to it only after
   * `rise` fresh checks pass, and `status()` reports health `up` only then.
   */
  async enable(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    const member = this.member(t);
    const log = this.deps.log.child({ adapter: 'haproxy', socket: this.opts.socket, node: t.node, member });
    const before: BackendEvidence[] = [];
    for (const be of this.opts.backends) before.push(await this.evidence(be, member, ctl));
    for (const e of before) {
      if ((e.adminBits & (ADMIN.FMAINT | ADMIN.FDRAIN)) === 0) continue; // already ready here: touch nothing
      if (e.adminBits & ADMIN.FMAINT) await this.set(e.backend, member, 'state drain', ctl);
      if (e.checkState & CHECK_STATE.ENABLED) {
        if (e.sessions === 0) await this.set(e.backend, member, 'health down', ctl);
        else log.warn({ backend: e.backend, sessions: e.sessions }, 'HAProxy: server still holds sessions; not forcing a fresh health check before ready');
      }
      await this.set(e.backend, member, 'state ready', ctl);
    }
    for (const be of this.opts.backends) {
      const st = await this.serverState(be, member, ctl);
      const left = st.adminState & (ADMIN_MAINT_MASK | ADMIN_DRAIN_MASK);
      if (left !== 0) {
        throw this.rt.fail(
          `set server ${be}/${member} state ready`,
          `HAProxy still reports srv_admin_state ${adminText(st.adminState)} afterwards${left & ~(ADMIN.FMAINT | ADMIN.FDRAIN) ? ' (inherited from a tracked server, the configuration, or DNS resolution: clear it there)' : ''}`,
        );
      }
    }
    log.info({ backends: this.opts.backends }, 'HAProxy: member set ready in every backend');
  }

  private member(t: LbTarget): string {
    if (!HAPROXY_NAME.test(t.member)) {
      throw new QrError(`HAProxy runtime API at ${this.opts.socket}: ${JSON.stringify(t.member)} (node ${t.node}) is not a HAProxy server name`, {
        endpoint: this.opts.socket,
        node: t.node,
      });
    }
    return t.member;
  }

  private async set(be: string, member: string, what: 'state drain' | 'state ready' | 'health down', ctl: LbCallCtl): Promise<void> {
    const cmd = `set server ${be}/${member} ${what}`;
    this.deps.log.debug({ socket: this.opts.socket, cmd }, 'HAProxy runtime API');
    const answer = (await this.rt.command(cmd, ctl)).trim();
    if (answer !== '') throw this.rt.fail(cmd, firstLines(answer));
  }

  private async serverState(be: string, member: string, ctl: LbCallCtl): Promise<ServerStateRow> {
    const cmd = `show servers state ${be}`;
    const answer = await this.rt.command(cmd, ctl);
    let rows: ServerStateRow[];
    try {
      rows = parseServersState(answer);
    } catch (err) {
      throw this.rt.fail(cmd, err instanceof UnexpectedAnswer ? err.message : String(err), err);
    }
    const row = rows.find((r) => r.server === member && r.backend === be);
    if (!row) throw this.rt.fail(cmd, `no server "${member}" in backend "${be}" (servers: ${rows.map((r) => r.server).join(', ') || 'none'})`);
    return row;
  }

  private async statRow(be: string, member: string, ctl: LbCallCtl): Promise<StatRow> {
    const cmd = `show stat ${be} 4 -1`;
    const answer = await this.rt.command(cmd, ctl);
    let rows: StatRow[];
    try {
      rows = parseStatCsv(answer);
    } catch (err) {
      throw this.rt.fail(cmd, err instanceof UnexpectedAnswer ? err.message : String(err), err);
    }
    const row = rows.find((r) => r.pxname === be && r.svname === member);
    if (!row) throw this.rt.fail(cmd, `no server "${member}" in backend "${be}"`);
    for (const col of ['status', 'scur', 'check_status']) {
      if (!(col in row)) throw this.rt.fail(cmd, `no column "${col}" in the CSV header`);
    }
    return row;
  }
}

function toEvidence(backend: string, st: ServerStateRow, stat: StatRow): BackendEvidence {
  const e: Omit<BackendEvidence, 'health'> = {
    backend,
    adminBits: st.adminState,
    opState: st.opState,
    checkState: st.checkState,
    status: (stat.status ?? '').trim(),
    checkStatus: checkStatusOf(stat),
    checkDesc: (stat.check_desc ?? stat.last_chk ?? '').trim(),
    sessions: Number(stat.scur) || 0,
  };
  return { ...e, health: backendHealth(e) };
}

/**
 * `up` only when HAProxy would route to it *and* its last check passed: admin state
 * ready, status exactly `UP`, check result L4OK/L6OK/L7OK. `down` when HAProxy says
 * so (status DOWN…, operational state stopped) or the last check failed. Otherwise
 * `unknown` (maintenance with checks paused, no check configured, no result yet).
 */
export function backendHealth(e: Omit<BackendEvidence, 'health'>): Health {
  const ready = (e.adminBits & (ADMIN_MAINT_MASK | ADMIN_DRAIN_MASK)) === 0;
  if (ready && e.status === 'UP' && checkPassed(e.checkStatus)) return 'up';
  if (e.adminBits & ADMIN_MAINT_MASK) return 'unknown';
  if (e.status.startsWith('DOWN') || e.opState === OP.STOPPED) return 'down';
  const checking = (e.checkState & CHECK_STATE.ENABLED) !== 0;
  if (checking && !checkPending(e.checkStatus) && !checkPassed(e.checkStatus)) return 'down';
  return 'unknown';
}

/**
 * One member across backends. Admin: `enabled` as long as any backend still sends it
 * new connections (so a partial drain is never taken for out-of-service);
 * `disabled` when in maintenance everywhere; otherwise `draining`. Health: `up` only if
 * up in every backend, `down` if down in any.
 */
export function summarize(evidence: readonly BackendEvidence[]): MemberStatus {
  const outBits = ADMIN_MAINT_MASK | ADMIN_DRAIN_MASK;
  let adminState: AdminState;
  if (evidence.some((e) => (e.adminBits & outBits) === 0)) adminState = 'enabled';
  else if (evidence.every((e) => (e.adminBits & ADMIN_MAINT_MASK) !== 0)) adminState = 'disabled';
  else adminState = 'draining';
  let health: Health;
  if (evidence.length > 0 && evidence.every((e) => e.health === 'up')) health = 'up';
  else if (evidence.some((e) => e.health === 'down')) health = 'down';
  else health = 'unknown';
  return {
    adminState,
    health,
    activeConnections: evidence.reduce((n, e) => n + e.sessions, 0),
    detail: evidence.map(describe).join('; '),
  };
}

function describe(e: BackendEvidence): string {
  const check = e.checkState & CHECK_STATE.ENABLED ? `check ${e.checkStatus || 'none yet'}${e.checkDesc ? ` "${e.checkDesc}"` : ''}` : 'no health check';
  const op = ['stopped', 'starting', 'running', 'stopping'][e.opState] ?? String(e.opState);
  return `${e.backend}: ${e.status || '?'} (admin ${adminText(e.adminBits)}, op ${op}, ${check}, ${e.sessions} session${e.sessions === 1 ? '' : 's'}) → ${e.health}`;
}

/** `0x08 FDRAIN`, `0x05 FMAINT|CMAINT`, `0x00 ready`. */
export function adminText(bits: number): string {
  const names = Object.entries(ADMIN)
    .filter(([, b]) => bits & b)
    .map(([n]) => n);
  return `0x${bits.toString(16).padStart(2, '0')} ${names.length ? names.join('|') : 'ready'}`;
}

function firstLines(text: string): string {
  const t = text.split('\n').slice(0, 3).join(' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}
