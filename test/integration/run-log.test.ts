/**
 * Invariant 11: every run that may change anything writes its ndjson event log to
 * `<state dir>/runs/<run id>.ndjson` (mode 0600), whatever the console shows (--json,
 * --quiet, the live view on a terminal), complete when the process exits (0, 1, 3,
 * 130); the outcome names it (`log_file`, and a `log:` line in text). `--dry-run` and
 * `plan` write none. (Secrets in it: secrets.test.ts.)
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI, runCli, type TestCluster } from '../support/cli.js';
import { useCluster, finish, startCli, untilOutput, withConfig } from '../support/inspect.js';
import { on, parkThrough, unpark } from '../support/park.js';
import { cpPrgs } from '../support/plan.js';

const runsDir = (c: TestCluster) => join(c.dir, '.quantum-roll', 'runs');
const logsNow = (c: TestCluster): string[] => (existsSync(runsDir(c)) ? readdirSync(runsDir(c)).sort() : []);

/** Every line of the log, parsed (a line that is not JSON fails the test). */
function events(file: string): Array<Record<string, any>> {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n'), 'the log ends with a whole line').toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/** The log a --json outcome names: where invariant 11 says, mode 0600, ending with the outcome. */
function checkedLog(c: TestCluster, doc: any): Array<Record<string, any>> {
  const file: string = doc.log_file;
  expect(file).toBe(join(runsDir(c), `${doc.run_id}.ndjson`));
  expect(statSync(file).mode & 0o777, 'run log mode').toBe(0o600);
  const ev = events(file);
  expect(ev[0]).toMatchObject({ event: 'run.log', run_id: doc.run_id, file });
  const end = ev.at(-1)!;
  expect(end.event, 'the outcome is the last event').toBe('run.end');
  expect(end.outcome).toMatchObject({ run_id: doc.run_id, exit_code: doc.exit_code, status: doc.status });
  return ev;
}

// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[[0-9;]*m/;

/** Runs the CLI on a pseudo-terminal (`script`): stdin, stdout and stderr are a TTY; what it shows comes back as stdout. */
function onTty(c: TestCluster, args: string): Promise<{ exitCode?: number; stdout?: unknown }> {
  return execa('script', ['-qec', `${process.execPath} ${CLI} ${args} --config ${c.config}`, '/dev/null'], {
    reject: false,
    cwd: c.dir,
    env: { QUANTUM_ROLL_CONFIG: '', TERM: 'xterm', NO_COLOR: undefined, FORCE_COLOR: undefined },
    timeout: 60_000,
  });
}

const stepStarts = (ev: Array<Record<string, any>>, node: string) => ev.filter((e) => e.event === 'step.start' && e.node === node).map((e) => e.step);

describe('the run log (invariant 11)', { timeout: 180_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));

  it('restart --json: every step of the run in the named file, info events included, the outcome last', async () => {
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    const doc = r.json as any;
    const ev = checkedLog(c, doc);
    expect(stepStarts(ev, 'node-2')).toEqual(['precheck', 'leader-transfer', 'drain', 'quiesce', 'restart', 'readmit', 'postcheck']);
    for (const e of ['lease.acquired', 'drain.start', 'lb.out', 'restart.done', 'readmit.done', 'lease.released', 'node.done']) {
      expect(ev.some((x) => x.event === e), e).toBe(true);
    }
    // The run's events carry its id (the progress events and what the steps log).
    expect(ev.filter((e) => e.event === 'step.done').every((e) => e.run_id === doc.run_id)).toBe(true);
  });

  it('--quiet and text output: stdout empty, the log still written at info; the text outcome names it', async () => {
    const before = logsNow(c);
    const q = await runCli(['drain', 'node-4', '--yes', '--quiet', '--config', c.config], { cwd: c.dir });
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toBe('');
    const added = logsNow(c).filter((f) => !before.includes(f));
    expect(added).toHaveLength(1);
    const ev = events(join(runsDir(c), added[0]!));
    expect(ev.some((e) => e.event === 'step.done' && e.step === 'drain' && e.level === 'info')).toBe(true);
    expect(ev.at(-1)).toMatchObject({ event: 'run.end', outcome: { status: 'done', exit_code: 0 } });

    const t = await runCli(['undrain', 'node-4', '--yes', '--config', c.config], { cwd: c.dir });
    expect(t.code, t.stderr).toBe(0);
    const named = /log: (\S+\.ndjson)/.exec(t.stdout)?.[1];
    expect(named, t.stdout).toBeDefined();
    expect(events(named!).at(-1)).toMatchObject({ event: 'run.end', outcome: { status: 'done' } });
  });

  it('under the live view of a terminal the log holds the same progress events', async () => {
    const r = await onTty(c, 'transfer-leaders node-1 --yes');
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const out = String(r.stdout);
    expect(out, 'a terminal run shows no ndjson').not.toMatch(/"event":"step\.start"/);
    expect(out, 'a terminal gets colour').toMatch(ESC);
    const file = /log: (\S+\.ndjson)/.exec(out)?.[1];
    expect(file, out).toBeDefined();
    const ev = events(file!);
    expect(stepStarts(ev, 'node-1')).toEqual(['leader-transfer']);
    expect(ev.some((e) => e.event === 'leader_transfer.done')).toBe(true);
    expect(ev.at(-1)).toMatchObject({ event: 'run.end', outcome: { status: 'done' } });
    expect(readFileSync(file!, 'utf8'), 'no colour codes in the log').not.toMatch(ESC);
  });

  it('--quiet on a terminal: no live view, nothing shown; the log complete all the same', async () => {
    const before = logsNow(c);
    const r = await onTty(c, 'transfer-leaders node-2 --yes --quiet');
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(String(r.stdout).trim(), 'nothing on the terminal').toBe('');
    const added = logsNow(c).filter((f) => !before.includes(f));
    expect(added).toHaveLength(1);
    const ev = events(join(runsDir(c), added[0]!));
    expect(stepStarts(ev, 'node-2')).toEqual(['leader-transfer']);
    expect(ev.at(-1)).toMatchObject({ event: 'run.end', outcome: { status: 'done' } });
  });

  it('--dry-run and plan write no log', async () => {
    const before = logsNow(c);
    for (const args of [['restart', 'node-3', '--dry-run'], ['plan', 'node-3'], ['drain', 'node-3', '--dry-run'], ['status']]) {
      const r = await c.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr.slice(-800)}`).toBe(0);
      expect((r.json as any).log_file ?? null, args.join(' ')).toBeNull();
    }
    expect(logsNow(c)).toEqual(before);
  });

  it('a refused precheck (exit 3) still writes its log, the refusal in it', async () => {
    const [p] = await cpPrgs(c, 'node=node-3');
    const other = p!.replicas.find((x) => x.node !== 'node-3')!.node;
    await c.sim.setFaults({ replicaDown: [{ node: other, prgs: [p!.id] }] });
    const r = await c.cli(['restart', 'node-3', '--yes']);
    expect(r.code, r.stderr.slice(-1500)).toBe(3);
    const ev = checkedLog(c, r.json);
    expect(ev.some((e) => e.event === 'step.failed' && e.step === 'precheck' && String(e.err).includes(p!.id))).toBe(true);
    expect(ev.at(-1)!.outcome.error.message).toContain(p!.id);
  });

  it('a run that fails before it begins (the cluster state unreadable) writes its log too; JSON and text name it', async () => {
    const before = logsNow(c);
    const fail = (args: string[]) =>
      withConfig(
        c,
        (cfg) => (cfg.control_plane.request_timeout = '1s'),
        async () => {
          await c.sim.setFaults({ cpUnavailable: true });
          try {
            return await (args[0] === 'json' ? c.cli(['restart', 'node-3', '--yes']) : runCli(['restart', 'node-3', '--yes', '--config', c.config], { cwd: c.dir }));
          } finally {
            await c.sim.setFaults({ cpUnavailable: false });
          }
        },
      );
    const r = await fail(['json']);
    expect(r.code, r.stderr.slice(-1500)).toBe(1);
    const doc = r.json as any;
    expect(doc).toMatchObject({ ok: false, exit_code: 1, status: 'failed', error: { step: 'precheck' } });
    const ev = checkedLog(c, doc);
    expect(ev.at(-1)!.outcome.error.message).toMatch(/could not read the cluster state/);
    expect(logsNow(c)).toEqual([...before, `${doc.run_id}.ndjson`].sort());
    const text = await fail(['text']);
    expect(text.code).toBe(1);
    const named = /^ {2}log: (\S+)$/m.exec(text.stderr)?.[1];
    expect(named, text.stderr).toMatch(new RegExp(`^${runsDir(c)}/\\d{8}T\\d{6}-[0-9a-f]{6}\\.ndjson$`));
    expect(events(named!).at(-1)).toMatchObject({ event: 'run.end', outcome: { exit_code: 1, status: 'failed' } });
  });

  it('a failed step (exit 1): the log is complete, ending with the failure', async () => {
    const r = await withConfig(
      c,
      (cfg) => (cfg.timeouts.ready = '1500ms'),
      async () => {
        await c.sim.setFaults({ restartNoop: true });
        return c.cli(['restart', 'node-5', '--yes']);
      },
    );
    expect(r.code, r.stderr.slice(-1500)).toBe(1);
    const ev = checkedLog(c, r.json);
    expect(ev.some((e) => e.event === 'step.failed' && e.step === 'restart' && e.node === 'node-5')).toBe(true);
    expect(ev.at(-1)!.outcome.error.step).toBe('restart');
    // resume continues the same run: its events go on in the same file.
    await c.sim.setFaults({ restartNoop: false });
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr.slice(-1500)).toBe(0);
    expect((resumed.json as any).log_file).toBe((r.json as any).log_file);
    const all = checkedLog(c, resumed.json);
    expect(all.filter((e) => e.event === 'run.end').map((e) => e.outcome.status)).toEqual(['failed', 'done']);
  });

  it('SIGINT (exit 130): the log is flushed, ending with the interruption', async () => {
    await c.sim.setFaults({ sessionDecay: 0 });
    const r = await withConfig(
      c,
      (cfg) => (cfg.quiesce.grace = '30s'),
      async () => {
        const p = startCli(c, ['restart', 'node-3', '--yes']);
        await parkThrough(c, [on.drainFlag('node-3'), on.readyz('node-3'), on.readyz('node-3')], p);
        p.kill('SIGINT');
        await untilOutput(p, 'stderr', /SIGINT received/);
        await unpark(c);
        return finish(p);
      },
    );
    expect(r.code, r.stderr.slice(-1500)).toBe(130);
    const ev = checkedLog(c, r.json);
    expect(ev.at(-1)!.outcome.status).toBe('interrupted');
    expect(ev.some((e) => e.event === 'lease.released')).toBe(true);
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr.slice(-1500)).toBe(0);
  });

  it('a second SIGINT (the hard exit, 130): the log still ends with run.end, and the outcome names it', async () => {
    const r = await withConfig(
      c,
      (cfg) => (cfg.quiesce.grace = '0s'),
      async () => {
        const p = startCli(c, ['restart', 'node-4', '--yes']);
        // Held in the restart command, which is no safe point: the first SIGINT can only wait for it.
        await parkThrough(c, [on.drainFlag('node-4'), on.restartCommand('node-4')], p);
        p.kill('SIGINT');
        await untilOutput(p, 'stderr', /SIGINT received/);
        p.kill('SIGINT'); // exits at once, from the signal handler: the top-level handler never runs
        return finish(p);
      },
    );
    await unpark(c);
    expect(r.code, r.stderr.slice(-1500)).toBe(130);
    expect((r.json as any).error.message).toMatch(/twice/);
    const ev = checkedLog(c, r.json);
    expect(ev.at(-1)!.outcome.status).toBe('interrupted');
    expect(ev.at(-1)!.outcome.error.message).toMatch(/twice/);
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr.slice(-1500)).toBe(0);
  });

  it('keeps the newest logs.keep run logs', async () => {
    const r = await withConfig(
      c,
      (cfg) => (cfg.logs = { keep: 2 }),
      async () => {
        const a = await c.cli(['drain', 'node-4', '--yes']);
        const b = await c.cli(['undrain', 'node-4', '--yes']);
        return [a, b];
      },
    );
    for (const x of r) expect(x.code, x.stderr.slice(-800)).toBe(0);
    expect(logsNow(c)).toEqual(r.map((x) => `${(x.json as any).run_id}.ndjson`).sort());
  });
});
