/**
 * `check`: the preflight before a maintenance window. It changes nothing in the cluster:
 * it sends GETs and LB status reads, and, when `canary` is configured, one MQTT round trip
 * that publishes one message to its own topic (`canary.topic_prefix`/check-<pid>) — the
 * only thing it writes. It says, one line per check, whether the tool can do its job: the
 * config (durations and argv placeholders included: a config error lists every problem
 * with its key path), the CP (`/readyz`, `/v1/features`), every node's admin API with its
 * TLS and token, every node's LB member, the restart command's program, the state dir, and
 * the mode of every secret file (token files, private keys, the canary's password file and
 * TLS key). Exit 0 when all pass, 1 when any fails (each failure names the endpoint or key
 * and what to fix), 2 for a config error.
 */
import { accessSync, constants, existsSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { ClusterState } from '../clients/schemas.js';
import type { Config } from '../config/schema.js';
import { ConfigProblems } from '../config/load.js';
import { targetOf } from '../cluster/targets.js';
import { lbTargetOf } from '../steps/context.js';
import { mapLimited } from '../util/limit.js';
import { ConfigError, ExitCode, messageOf } from '../util/errors.js';
import { type GlobalOptions, type Session, openSession } from './session.js';
import { canaryChecks } from './check-canary.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** What was checked: `config`, `cp /readyz`, `node node-3 admin API`, `lb member node-3`, … */
  name: string;
  status: CheckStatus;
  detail: string;
  /** The endpoint (URL, socket, file) the check talked to or read. */
  endpoint?: string;
  /** The config key the check is about, when one is. */
  key?: string;
  /** What to do about a failure. */
  fix?: string;
}

const NETWORK_DEADLINE_MS = 10_000;
const NODE_CONCURRENCY = 16;

export interface CheckOptions extends GlobalOptions {
  quiet?: boolean;
}

export async function checkAction(opts: CheckOptions): Promise<number> {
  let session: Session;
  try {
    session = await openSession({ ...opts, logLevel: opts.logLevel ?? 'error' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems =
      err instanceof ConfigProblems
        ? err.problems.map<CheckResult>((p) => ({
            name: 'config',
            status: 'fail',
            detail: `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`,
            endpoint: err.file,
            ...(p.path ? { key: p.path } : {}),
          }))
        : [{ name: 'config', status: 'fail' as const, detail: err.message, ...(err.keyPath ? { key: err.keyPath } : {}), ...(err.file ? { endpoint: err.file } : {}) }];
    const file = err instanceof ConfigProblems ? err.file : err.file;
    return report(opts, problems, ExitCode.usage, { config_file: file ?? null }, err.message);
  }
  try {
    const results = await runChecks(session);
    const failed = results.filter((r) => r.status === 'fail');
    const code = failed.length ? ExitCode.failed : ExitCode.ok;
    const summary = failed.length ? `${failed.length} check(s) failed: ${failed.map((f) => f.name).join(', ')}` : undefined;
    return report(
      opts,
      results,
      code,
      { config_file: session.loaded.file, config_source: session.loaded.location?.source ?? null, state_dir: session.stateDir },
      summary,
    );
  } finally {
    await session.close();
  }
}

export async function runChecks(s: Session): Promise<CheckResult[]> {
  const { config, file, location } = s.loaded;
  const results: CheckResult[] = [
    { name: 'config', status: 'pass', detail: `${file}${location && location.source !== '--config' ? ` (found via ${location.source})` : ''} is valid`, endpoint: file },
    stateDirCheck(s.stateDir),
    ...secretFileChecks(config),
    programCheck('restart command', 'restart.command', config.restart.command),
  ];
  if (config.lb.adapter === 'exec') {
    for (const k of ['drain', 'enable', 'status'] as const) results.push(programCheck(`lb ${k} command`, `lb.${k}`, config.lb[k]!));
  }
  results.push(...(await networkChecks(s)));
  results.push(...(await canaryChecks(config, `check-${process.pid}`)));
  return results;
}

/** The state dir can take the journal: a probe directory is made and removed again, nothing is left behind. */
export function stateDirCheck(dir: string): CheckResult {
  const name = 'state dir';
  let probeIn = resolve(dir);
  while (!existsSync(probeIn)) {
    const up = dirname(probeIn);
    if (up === probeIn) break;
    probeIn = up;
  }
  try {
    if (!statSync(probeIn).isDirectory()) {
      return { name, status: 'fail', detail: `${probeIn} is not a directory`, endpoint: dir, fix: 'use --state-dir <dir> for a directory' };
    }
    rmdirSync(mkdtempSync(join(probeIn, '.quantum-roll-check-')));
    return { name, status: 'pass', detail: `${dir} is writable${probeIn !== resolve(dir) ? ` (created on first run under ${probeIn})` : ''}`, endpoint: dir };
  } catch (err) {
    return {
      name,
      status: 'fail',
      detail: `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? messageOf(err)} in ${probeIn})`,
      endpoint: dir,
      fix: 'give the user running quantum-roll write access, or pass --state-dir <dir>',
    };
  }
}

/** Every secret file of the config (key path, file): token files, private keys, the canary's password file and TLS key. */
export function secretFiles(config: Config): Array<[key: string, path: string]> {
  const out: Array<[string, string]> = [];
  for (const sys of ['control_plane', 'node_api', 'lb'] as const) {
    for (const k of ['token_file', 'key_file'] as const) {
      const path = config[sys][k];
      if (path) out.push([`${sys}.${k}`, path]);
    }
  }
  if (config.canary?.password_file) out.push(['canary.password_file', config.canary.password_file]);
  if (config.canary?.tls?.key_file) out.push(['canary.tls.key_file', config.canary.tls.key_file]);
  return out;
}

/** Secret files: readable by their owner only. */
export function secretFileChecks(config: Config): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [key, path] of secretFiles(config)) {
    try {
      const mode = statSync(path).mode & 0o777;
      const octal = mode.toString(8).padStart(3, '0');
      if ((mode & 0o077) !== 0) {
        out.push({ name: `${key} permissions`, status: 'fail', detail: `${path} has mode ${octal}: readable or writable by group/others`, endpoint: path, key, fix: `chmod 600 ${path}` });
      } else {
        out.push({ name: `${key} permissions`, status: 'pass', detail: `${path} mode ${octal}`, endpoint: path, key });
      }
    } catch (err) {
      out.push({ name: `${key} permissions`, status: 'fail', detail: `cannot stat ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, endpoint: path, key });
    }
  }
  return out;
}

/** The program of an argv: an absolute (or relative) path must be an executable file; a bare name must be found on PATH. */
export function programCheck(name: string, key: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CheckResult {
  const program = argv[0]!;
  if (/\{[a-z_][a-z0-9_]*\}/.test(program)) {
    return { name, status: 'skip', detail: `the program ${program} depends on the node; not checked`, key };
  }
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) {
    const abs = isAbsolute(program) ? program : resolve(program);
    return executable(abs)
      ? { name, status: 'pass', detail: `${abs} is executable`, key, endpoint: abs }
      : { name, status: 'fail', detail: `${abs} is not an executable file`, key, endpoint: abs, fix: `install it or fix ${key}[0]` };
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const found = dirs.map((d) => join(d, program)).find(executable);
  return found
    ? { name, status: 'pass', detail: `${program} found at ${found}`, key, endpoint: found }
    : { name, status: 'fail', detail: `${program} is not on PATH (${dirs.join(delimiter) || 'PATH is empty'})`, key, fix: `install ${program}, or give ${key}[0] as an absolute path` };
}

async function networkChecks(s: Session): Promise<CheckResult[]> {
  const deadline = Date.now() + NETWORK_DEADLINE_MS;
  const ctl = { deadline, retry: false } as const;
  const cpUrl = s.cp.http.url('/readyz');
  const [readyz, features, state] = await Promise.all([
    s.cp.readyz(ctl).then(
      (r): CheckResult =>
        r.ok
          ? { name: 'cp /readyz', status: 'pass', detail: `200: leader ${r.cp.leader ?? '?'}, term ${r.cp.term}`, endpoint: cpUrl }
          : { name: 'cp /readyz', status: 'fail', detail: `503: the control plane is not healthy (leader ${r.cp.leader ?? 'none'})`, endpoint: cpUrl, fix: 'wait for the CP to elect a leader; nothing can roll before' },
      (err): CheckResult => fail('cp /readyz', err, cpUrl, 'control_plane.url', 'check control_plane.url, its TLS (ca_file, cert_file/key_file) and token'),
    ),
    s.cp.features(ctl).then(
      (f): CheckResult => ({ name: 'cp /v1/features', status: 'pass', detail: f.batch ? 'batch leader transfer available' : 'no batch leader transfer: per-PRG transfers are used', endpoint: s.cp.http.url('/v1/features') }),
      (err): CheckResult => fail('cp /v1/features', err, s.cp.http.url('/v1/features'), 'control_plane.url'),
    ),
    s.cp.clusterState(ctl).then(
      (v) => v,
      (err: unknown) => fail('cp /v1/cluster/state', err, s.cp.http.url('/v1/cluster/state'), 'control_plane.url'),
    ),
  ]);
  const results = [readyz, features];
  if ('status' in state) {
    results.push(state, { name: 'nodes', status: 'skip', detail: 'the cluster state could not be read: node and LB checks did not run' });
    return results;
  }
  results.push(...(await nodeChecks(s, state, ctl)));
  return results;
}

async function nodeChecks(s: Session, state: ClusterState, ctl: { deadline: number; retry: false }): Promise<CheckResult[]> {
  const config = s.loaded.config;
  const out: CheckResult[] = [];
  const known = new Set(state.nodes.map((n) => n.id));
  for (const id of Object.keys(config.nodes)) {
    if (!known.has(id)) {
      out.push({ name: `nodes.${id}`, status: 'fail', detail: `configured but not a node of the cluster (the CP lists ${[...known].join(', ')})`, key: `nodes.${id}`, fix: 'fix the id or remove the entry' });
    }
  }
  const targets = state.nodes.map((n) => targetOf(config, n));
  const perNode = await mapLimited(targets, NODE_CONCURRENCY, async (t): Promise<CheckResult[]> => {
    const key = config.nodes[t.id]?.admin_url ? `nodes.${t.id}.admin_url` : undefined;
    const admin = await s
      .runtimeFor(t)
      .node(ctl)
      .then(
        (info): CheckResult =>
          info.node_id === t.id
            ? { name: `node ${t.id} admin API`, status: 'pass', detail: `${info.version}, up since ${info.started_at}`, endpoint: t.adminUrl }
            : {
                name: `node ${t.id} admin API`,
                status: 'fail',
                detail: `${t.adminUrl} answers as node ${info.node_id}`,
                endpoint: t.adminUrl,
                ...(key ? { key } : {}),
                fix: `fix nodes.${t.id}.admin_url (or the CP's admin_url for ${t.id})`,
              },
        (err): CheckResult => fail(`node ${t.id} admin API`, err, `${t.adminUrl}/v1/node`, key, 'check the node is up and node_api (TLS, token) matches its admin API'),
      );
    const member = await s.lb.status(lbTargetOf(t), { deadline: ctl.deadline }).then(
      (m): CheckResult => {
        const serving = m.adminState === 'enabled' && m.health === 'up';
        return {
          name: `lb member ${t.lbMember}`,
          status: serving ? 'pass' : 'warn',
          detail: `${s.lb.name}: ${m.adminState}/${m.health}${m.detail ? ` (${m.detail})` : ''}${serving ? '' : ' — not in service now'}`,
          endpoint: s.lb.endpoint,
        };
      },
      (err): CheckResult =>
        fail(`lb member ${t.lbMember}`, err, s.lb.endpoint, config.nodes[t.id]?.lb_member ? `nodes.${t.id}.lb_member` : 'lb', `check that ${s.lb.name} knows member ${t.lbMember} (nodes.${t.id}.lb_member names it otherwise)`),
    );
    return [admin, member];
  });
  for (const r of perNode) out.push(...r);
  return out;
}

function fail(name: string, err: unknown, endpoint: string, key?: string, fix?: string): CheckResult {
  return { name, status: 'fail', detail: messageOf(err), endpoint, ...(key ? { key } : {}), ...(fix ? { fix } : {}) };
}

const MARK: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

function report(opts: CheckOptions, results: CheckResult[], code: number, head: Record<string, unknown>, error?: string): number {
  const counts = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) counts[r.status]++;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: code === ExitCode.ok, exit_code: code, ...head, counts, checks: results, ...(error ? { error: { message: error } } : {}) })}\n`,
    );
    return code;
  }
  const width = Math.max(...results.map((r) => r.name.length));
  const line = (r: CheckResult) => `${MARK[r.status]} ${r.name.padEnd(width)}  ${r.detail}${r.fix ? `; fix: ${r.fix}` : ''}`;
  if (opts.quiet) {
    // Scripts that only want the exit code: failures still go to stderr.
    for (const r of results) if (r.status === 'fail') process.stderr.write(`${line(r)}\n`);
    return code;
  }
  const summary =
    code === ExitCode.usage
      ? 'config error: nothing else was checked (exit 2)'
      : `${counts.pass} passed, ${counts.fail} failed${counts.warn ? `, ${counts.warn} warning(s)` : ''}${counts.skip ? `, ${counts.skip} skipped` : ''}`;
  process.stdout.write(`${results.map(line).join('\n')}\n\n${summary}\n`);
  return code;
}
