/**
 * `quantum-roll report` on the logs of real simulator runs: a 3-node roll of real MQTT
 * brokers behind a real HAProxy under MQTT load (with the session samples the quiesce
 * step writes while a node drains), and a failed-then-resumed run. The HTML parses
 * (Chromium's own parser), holds one timeline bar per node step that ran and the session
 * series of every sampled node, asks for no URL, and renders in headless Chromium with no
 * console message; the markdown holds a mermaid gantt with one task per node step; a
 * secret-looking token planted in the log shows in no format; bad input gets a clear
 * message (exit 2) or a report that says what it could not read.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSimJson } from '../../src/sim/index.js';
import { frontDoor, identifierFor, runLoad, targetLabel } from '../../src/sim/load/index.js';
import { runCli, startCluster, type TestCluster } from '../support/cli.js';
import { dumpDom, screenshot } from '../support/chromium.js';

const SECRET = 'ghp_Zq8vX2mK9pL4nR7tY1wB3cD5fG6hJ0aS2dF4';
const SECRET2 = 's3cr3t-Pl4nted-Passw0rd-XYZ';

/** Lines a secret-looking token is planted in, as a hand-edited or foreign log could hold them. */
function plantSecrets(file: string, runId: string): void {
  const t = new Date(Date.parse(JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[0]!).time) + 5).toISOString();
  appendFileSync(
    file,
    [
      { level: 'warn', time: t, run_id: runId, event: 'warning', node: 'node-2', msg: `restart helper said: export GITHUB_TOKEN=${SECRET} Authorization: Bearer ${SECRET}` },
      { level: 'info', time: t, run_id: runId, event: 'restart.output', node: 'node-2', output: `password=${SECRET2}`, token: SECRET, headers: { authorization: `Bearer ${SECRET}` } },
      { level: 'error', time: t, run_id: runId, event: 'lease.renew_retry', err: `https://admin:${SECRET2}@cp.internal/v1/leases failed`, msg: `lease renewal failed token ${SECRET}` },
    ]
      .map((e) => `${JSON.stringify(e)}\n`)
      .join(''),
  );
}

function events(file: string): Array<Record<string, any>> {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, any>];
      } catch {
        return [];
      }
    });
}

/** Every node step that ran: one step.start each. */
const stepsRan = (file: string) => events(file).filter((e) => e.event === 'step.start');

const MERMAID_HEAD = /^gantt\n {2}title [^\n:#;]+\n {2}dateFormat YYYY-MM-DD HH:mm:ss\.SSS\n {2}axisFormat [^\n]+\n/;
const MDATE = '(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3})';
const TASK = new RegExp(`^ {4}([^:#;\\n]+) :((?:done|crit|active|milestone), )*(t\\d+), ${MDATE}, ${MDATE}$`);

/**
 * The gantt of a markdown report, checked against mermaid's gantt grammar: the header
 * statements, then sections and tasks (`name :tags, id, start, end`, no `:`/`#`/`;` in a
 * name, ids unique, each date in the declared format and a task never ending before it starts).
 */
function ganttTasks(md: string): Array<{ name: string; tags: string; id: string }> {
  const m = /```mermaid\n([\s\S]*?)\n```/.exec(md);
  expect(m, 'a mermaid block').not.toBeNull();
  const g = m![1]!;
  expect(g).toMatch(MERMAID_HEAD);
  const tasks: Array<{ name: string; tags: string; id: string }> = [];
  for (const line of g.split('\n').slice(4)) {
    if (/^ {2}section [^\n:#;]+$/.test(line)) continue;
    const t = TASK.exec(line);
    expect(t, `a gantt task line: ${line}`).not.toBeNull();
    const start = Date.parse(`${t![4]!.replace(' ', 'T')}Z`);
    const end = Date.parse(`${t![5]!.replace(' ', 'T')}Z`);
    expect(Number.isFinite(start) && Number.isFinite(end) && end >= start, line).toBe(true);
    tasks.push({ name: t![1]!, tags: t![2] ?? '', id: t![3]! });
  }
  expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
  return tasks;
}

/** Every URL the page would load: href/src/xlink:href attributes, CSS url() and @import. */
function urlsLoaded(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/\s(?:href|src|xlink:href|srcset|action|poster|data)\s*=\s*["']?([^"'\s>]+)/gi)) found.push(m[1]!);
  for (const m of html.matchAll(/url\(\s*["']?([^"')]+)/gi)) found.push(m[1]!);
  for (const m of html.matchAll(/@import\s+["']?([^"';]+)/gi)) found.push(m[1]!);
  if (/<link\b|<script\b|<iframe\b|<img\b|<object\b|<embed\b/i.test(html)) found.push('(an element that loads a resource)');
  return found.filter((u) => !u.startsWith('#'));
}

const count = (s: string, re: RegExp) => [...s.matchAll(re)].length;

async function checkInBrowser(html: string, dir: string, name: string): Promise<string> {
  const png = join(dir, `${name}.png`);
  const r = await screenshot(html, png);
  expect(r.console, 'console messages of the page').toEqual([]);
  expect(r.screenshotBytes).toBeGreaterThan(10_000);
  return png;
}

describe('the console check itself', () => {
  it('sees a console error and a failed load of a page that has them (so an empty console means something)', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-report-'));
    const page = join(dir, 'bad.html');
    writeFileSync(page, '<!DOCTYPE html><html><body><p>x</p><script>console.error("report-test-boom")</script><img src="https://example.invalid/x.png"></body></html>');
    const r = await screenshot(page, join(dir, 'bad.png'), '400,300');
    expect(r.console.join('\n')).toContain('report-test-boom');
  });
});

// haproxy and redis-server are part of the bed: .ci/run installs them and fails without them.
describe('report of a 3-node roll under MQTT load (real brokers, real HAProxy)', () => {
  let c: TestCluster;
  let log: string;
  let sampled: string[];
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qr-report-'));
    c = await startCluster({ nodes: 3, racks: 3, prgs: 60, replayMs: 300, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
    const door = frontDoor(undefined, readSimJson(c.dir));
    await c.patchConfig((cfg) => {
      cfg.quiesce = { ...cfg.quiesce, disconnect: { reason_code: 156, server_reference: targetLabel(door.targets[0]!), rate_per_s: 500 } };
    });
    let roll: Promise<Awaited<ReturnType<TestCluster['cli']>>> | undefined;
    let rolled = false;
    await runLoad({
      clients: 30,
      ratePerS: 60,
      targets: door.targets,
      identifier: identifierFor(door),
      onSteady: () => {
        // --allow-overload: on a loaded two-core host a node's /readyz can answer late, and the
        // spare-capacity precheck would refuse; this test is about the report of a roll.
        // A read that times out on such a host fails a step (exit 1): resume finishes the run,
        // and its log (both parts) is what the report is then made of.
        roll = (async () => {
          let r = await c.cli(['restart', '--all', '--parallel', 'auto', '--yes', '--allow-overload']);
          for (let i = 0; i < 2 && r.code === 1; i++) r = await c.cli(['resume', '--yes']);
          return r;
        })().finally(() => (rolled = true));
      },
      until: () => rolled,
      drainTimeoutMs: 60_000,
    });
    const r = await roll!;
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    log = join(dir, 'run.ndjson');
    copyFileSync((r.json as { log_file: string }).log_file, log); // a log copied elsewhere: nothing else is read
    sampled = [...new Set(events(log).filter((e) => e.event === 'sessions.sample').map((e) => e.node as string))].sort();
    plantSecrets(log, (r.json as { run_id: string }).run_id);
  }, 300_000);
  afterAll(async () => c?.stop());

  it('html: parses, one bar per node step that ran, a session series for every sampled node, no URL, renders in Chromium with no console message', { timeout: 240_000 }, async () => {
    expect(sampled).toEqual(['node-1', 'node-2', 'node-3']); // every node drained, and was sampled while it did
    const out = join(dir, 'report.html');
    const r = await runCli(['report', log, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    const html = readFileSync(out, 'utf8');
    expect(statSync(out).mode & 0o077).toBe(0);
    expect(urlsLoaded(html)).toEqual([]);
    // Chromium's parser: the DOM it built holds what the file says
    const dom = await dumpDom(out);
    const ran = stepsRan(log);
    expect(ran.length).toBeGreaterThanOrEqual(21);
    expect(count(dom, /<rect class="bar o-/g)).toBe(ran.length);
    const done = events(log).filter((e) => e.event === 'step.done');
    expect(count(dom, /<rect class="bar o-done"/g)).toBe(done.length);
    for (const e of done) expect(dom).toContain(`data-node="${e.node}" data-step="${e.step}" data-outcome="done"`);
    // the session series of every sampled node, in the chart of every node that drained
    const samples = events(log).filter((e) => e.event === 'sessions.sample');
    for (const node of sampled) {
      const chart = new RegExp(`<div class="chart" data-draining-node="${node}">([\\s\\S]*?)</svg>`).exec(dom);
      expect(chart, `chart of ${node}`).not.toBeNull();
      const inChart = new Set(samples.filter((s) => s.node === node).flatMap((s) => Object.keys(s.sessions)));
      expect(inChart.size).toBe(3);
      for (const n of inChart) expect(chart![1]).toMatch(new RegExp(`<polyline class="series${n === node ? ' draining' : ''}" data-node="${n}"`));
    }
    // canary and leadership per node
    for (const n of ['node-1', 'node-2', 'node-3']) {
      expect(dom).toMatch(new RegExp(`<section id="canary">[\\s\\S]*<td>${n}</td><td>readmit</td>`));
      expect(dom).toMatch(new RegExp(`<section id="leadership">[\\s\\S]*<td>${n}</td><td>\\d+ PRG\\(s\\)`));
    }
    await checkInBrowser(out, dir, 'roll');
  });

  it('md: a mermaid gantt with one task per node step; text: the summary', { timeout: 60_000 }, async () => {
    const md = await runCli(['report', log, '--format', 'md']);
    expect(md.code, md.stderr).toBe(0);
    const tasks = ganttTasks(md.stdout);
    expect(tasks.length).toBe(stepsRan(log).length);
    expect(tasks.filter((t) => t.tags === 'done, ').length).toBe(events(log).filter((e) => e.event === 'step.done').length);
    expect(md.stdout).toMatch(/\| 1 \| node-\d \| done \| \d+ \|/);
    const text = await runCli(['report', log, '--format', 'text']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/run \S+: done \(exit 0\)/);
    for (const n of ['node-1', 'node-2', 'node-3']) expect(text.stdout).toMatch(new RegExp(`${n}\\s+done\\s+\\d+`));
  });

  it('a secret-looking token planted in the log shows in no format', { timeout: 60_000 }, async () => {
    const out = join(dir, 'secret.html');
    const outputs = [
      (await runCli(['report', log, '--output', out])).code === 0 ? readFileSync(out, 'utf8') : 'html failed',
      (await runCli(['report', log, '--format', 'md'])).stdout,
      (await runCli(['report', log, '--format', 'text'])).stdout,
    ];
    for (const o of outputs) {
      expect(o).toContain('[redacted]'); // the planted lines are shown, scrubbed
      expect(o).not.toContain(SECRET);
      expect(o).not.toContain(SECRET2);
    }
  });
});

describe('report of a failed-then-resumed run, and bad input', () => {
  let c: TestCluster;
  let log: string;
  let dir: string;
  let stateDir: string;
  let runId: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qr-report-'));
    c = await startCluster({ nodes: 3, racks: 3, prgs: 60, sessionsPerNode: 20, faults: { restartFail: ['node-2'] } });
    stateDir = join(c.dir, '.quantum-roll');
    const failed = await c.cli(['restart', '--all', '--parallel', 'auto', '--yes']);
    expect(failed.code, failed.stderr.slice(-2000)).toBe(1);
    await c.sim.setFaults({ restartFail: false });
    const resumed = await c.cli(['resume', '--yes']);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    runId = (resumed.json as { run_id: string }).run_id;
    log = (resumed.json as { log_file: string }).log_file;
  }, 300_000);
  afterAll(async () => c?.stop());

  it('the newest run by default: both parts drawn, the failed step marked, the next command named', { timeout: 240_000 }, async () => {
    const r = await runCli(['report', '--config', c.config]);
    expect(r.code, r.stderr).toBe(0);
    const out = join(stateDir, 'runs', `${runId}.html`);
    expect(r.stdout.trim()).toBe(out);
    const dom = await dumpDom(out);
    const ran = stepsRan(log);
    expect(count(dom, /<rect class="bar o-/g)).toBe(ran.length);
    expect(count(dom, /<rect class="bar o-failed" data-node="node-2" data-step="restart"/g)).toBe(1);
    expect(count(dom, /<rect class="gap"/g)).toBe(1);
    expect(dom).toContain('2 (restart, then resume)');
    expect(dom).toMatch(/<section id="issues">[\s\S]*<td>node-2<\/td><td>restart<\/td><td class="msg">[^<]*restartFail[\s\S]*quantum-roll resume/);
    expect(urlsLoaded(readFileSync(out, 'utf8'))).toEqual([]);
    await checkInBrowser(out, dir, 'resumed');
    const md = await runCli(['report', runId, '--format', 'md', '--state-dir', stateDir]);
    const tasks = ganttTasks(md.stdout);
    expect(tasks.length).toBe(ran.length);
    expect(tasks.filter((t) => t.tags.includes('crit')).map((t) => t.name)).toEqual([expect.stringMatching(/^restart /)]);
  });

  it('a run that was interrupted (its log cut before its end): the steps it left unfinished, and resume as the next command', async () => {
    const lines = readFileSync(log, 'utf8').split('\n');
    const cut = lines.findIndex((l) => l.includes('"event":"step.start"') && l.includes('"node-3"') && l.includes('"quiesce"'));
    const file = join(dir, 'interrupted.ndjson');
    writeFileSync(file, `${lines.slice(0, cut + 1).join('\n')}\n`);
    const r = await runCli(['report', file, '--format', 'text']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: unfinished\n/);
    expect(r.stdout).toContain('next: quantum-roll resume');
    expect(r.stdout).toContain('without the run\'s end');
  });

  it('bad input: a missing run id, an empty or foreign file, a bad --format: exit 2 with a clear message, never a stack', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['report', '20990101T000000-000000', '--state-dir', stateDir], /no run 20990101T000000-000000 in .*runs \(newest: /],
      [['report', '--state-dir', join(dir, 'nothing-here')], /no run log in .*nothing-here\/runs/],
      [['report', join(dir, 'absent.ndjson')], /no run log at /],
      [['report', log, '--format', 'pdf'], /--format must be one of html, md, text \(got "pdf"\)/],
    ];
    const empty = join(dir, 'empty.ndjson');
    writeFileSync(empty, '');
    cases.push([['report', empty], /is not a quantum-roll run log: it is empty/]);
    const foreign = join(dir, 'foreign.ndjson');
    writeFileSync(foreign, '<html>not a log</html>\n[1,2,3]\n');
    cases.push([['report', foreign], /is not a quantum-roll run log: not one line is a log event/]);
    for (const [args, re] of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a truncated last line, a corrupt line, events of a newer version: a report that says what it could not read', async () => {
    const text = readFileSync(log, 'utf8').split('\n');
    const file = join(dir, 'damaged.ndjson');
    const corrupt = '{"level":"info","time":"2026-12-07T12:00:00.000Z","event":"step.done",,,}';
    const newer = JSON.stringify({ level: 'info', time: JSON.parse(text[1]!).time, event: 'quiesce.hologram', node: 'node-1' });
    const wrong = JSON.stringify({ level: 'info', time: JSON.parse(text[1]!).time, event: 'step.done', node: 'node-1', step: 'drain', duration_ms: 'soon' });
    const body = [...text.slice(0, 3), corrupt, newer, newer, wrong, ...text.slice(3).filter(Boolean)];
    const last = body.pop()!;
    writeFileSync(file, `${body.join('\n')}\n${last.slice(0, Math.floor(last.length / 2))}`);
    for (const format of ['text', 'md', 'html']) {
      const out = join(dir, `damaged.${format}`);
      const r = await runCli(['report', file, '--format', format, '--output', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('the report says what it could not read: 3 line(s) unreadable, 2 event(s) of a newer version');
      const o = readFileSync(out, 'utf8');
      expect(o).toContain('line 4 not read: not JSON (a corrupt line)');
      expect(o).toContain('line 7 not read: event step.done: duration_ms: ');
      expect(o).toMatch(/line \d+ not read: the last line is cut short/);
      expect(o).toContain('quiesce.hologram ×2');
    }
    expect(existsSync(join(dir, 'damaged.html'))).toBe(true);
  });
});
