/**
 * The exec adapter: the operator's own commands drive the LB. `lb.drain`,
 * `lb.enable` and `lb.status` are argv arrays with `{node}` and `{member}`
 * placeholders, run without a shell. `status` must print one JSON object
 * `{"admin_state": ..., "health": ..., "active_connections"?: n}` on stdout.
 */
import * as z from 'zod';
import { QrError } from '../../util/errors.js';
import { type LbCallCtl, type LbDeps, type LbTarget, type MemberStatus, LbAdapterBase } from './types.js';
import { displayArgv, runArgv, substitute } from '../../util/run-argv.js';

export interface ExecOptions {
  drain: string[];
  enable: string[];
  status: string[];
}

/** Per-call bound when the caller gives no deadline. */
export const EXEC_DEFAULT_TIMEOUT_MS = 30_000;

const statusOutputSchema = z
  .object({
    admin_state: z.enum(['enabled', 'draining', 'disabled']),
    health: z.enum(['up', 'down', 'unknown']),
    active_connections: z.number().int().nonnegative().optional(),
  })
  .passthrough();

type Verb = keyof ExecOptions;

export class ExecLbAdapter extends LbAdapterBase {
  readonly name = 'exec';
  readonly endpoint: string;
  constructor(
    readonly opts: ExecOptions,
    readonly deps: LbDeps,
  ) {
    super();
    this.endpoint = displayArgv(opts.status);
  }

  async status(t: LbTarget, ctl: LbCallCtl = {}): Promise<MemberStatus> {
    const { stdout, argv } = await this.run('status', t, ctl);
    const shown = displayArgv(argv);
    const text = stdout.trim();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new QrError(`lb.status "${shown}" did not print one JSON object on stdout; it printed ${quote(text)}`, { endpoint: shown });
    }
    const parsed = statusOutputSchema.safeParse(json);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new QrError(
        `lb.status "${shown}" printed ${quote(text)}, which is not {"admin_state": "enabled"|"draining"|"disabled", "health": "up"|"down"|"unknown"} (${why})`,
        { endpoint: shown },
      );
    }
    const s = parsed.data;
    return {
      adminState: s.admin_state,
      health: s.health,
      ...(s.active_connections !== undefined ? { activeConnections: s.active_connections } : {}),
      detail: `lb.status printed ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`,
    };
  }

  async drain(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    await this.run('drain', t, ctl);
  }

  async enable(t: LbTarget, ctl: LbCallCtl = {}): Promise<void> {
    await this.run('enable', t, ctl);
  }

  private async run(verb: Verb, t: LbTarget, ctl: LbCallCtl): Promise<{ stdout: string; argv: string[] }> {
    const label = `lb.${verb}`;
    const argv = substitute(this.opts[verb], { node: t.node, member: t.member }, { plain: ['node', 'member'], label });
    const timeoutMs = ctl.deadline !== undefined ? ctl.deadline - Date.now() : EXEC_DEFAULT_TIMEOUT_MS;
    const log = this.deps.log.child({ adapter: 'exec', node: t.node, member: t.member });
    const r = await runArgv(argv, { timeoutMs, signal: ctl.signal, log, label, env: this.deps.env, withoutEnv: this.deps.withoutEnv });
    return { stdout: r.stdout, argv };
  }
}

function quote(text: string, max = 300): string {
  if (text === '') return 'nothing';
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
