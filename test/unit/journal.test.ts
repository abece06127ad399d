import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, type JournalData, emptyNodeRecord } from '../../src/run/journal.js';
import { leftAs } from '../../src/run/pipeline.js';
import { StopController, isStop } from '../../src/util/stop.js';

function data(): JournalData {
  return {
    version: 1,
    run_id: 'r1',
    command: 'restart',
    status: 'running',
    started_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    config_file: '/x/quantum-roll.yaml',
    config_digest: 'abc',
    options: {},
    initiator: 'quantum-roll@h:1/r1',
    lease: null,
    waves: [['node-1']],
    nodes: { 'node-1': emptyNodeRecord() },
    error: null,
  };
}

describe('journal', () => {
  it('a deferred journal stays in memory until persist(), which archives first, once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-j-'));
    const j = new Journal(Journal.path(dir), data(), { deferred: true });
    let archived = 0;
    j.beforeFirstWrite = () => archived++;
    j.update((d) => (d.status = 'running'));
    expect(existsSync(j.file)).toBe(false);
    j.persist();
    j.persist();
    expect(archived).toBe(1);
    expect(Journal.read(dir)?.data.run_id).toBe('r1');
    j.update((d) => (d.status = 'done'));
    expect(Journal.read(dir)?.data.status).toBe('done');
  });

  it('loads a journal written before restart_pid existed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-j-'));
    const old = data() as any;
    delete old.nodes['node-1'].restart_pid;
    delete old.nodes['node-1'].restart_started_at;
    writeFileSync(Journal.path(dir), JSON.stringify(old));
    const j = Journal.read(dir)!;
    expect(j.node('node-1').restart_pid).toBeNull();
    expect(JSON.parse(readFileSync(Journal.path(dir), 'utf8')).run_id).toBe('r1');
  });
});

describe('what a stop leaves', () => {
  const rec = (steps: string[], extra: Partial<ReturnType<typeof emptyNodeRecord>> = {}) => {
    const r = { ...emptyNodeRecord(), ...extra };
    for (const s of steps) r.steps[s] = { started_at: 't', ended_at: 't', outcome: 'done' };
    return r;
  };
  it('says nothing changed, not drained, drained and out, or back in service', () => {
    expect(leftAs(rec(['precheck']), 'node-3')).toMatchObject({ changed: false, drained: false });
    expect(leftAs(rec(['precheck', 'leader-transfer']), 'node-3').text).toMatch(/not drained and still serves/);
    expect(leftAs(rec(['precheck', 'leader-transfer', 'drain'], { lb_out_at: 't' }), 'node-3')).toMatchObject({ drained: true, text: 'node-3 is left drained and out of the LB' });
    expect(leftAs(rec(['drain', 'quiesce', 'restart'], { lb_out_at: 't', boot_id_after: 'b' }), 'node-3').text).toMatch(/restarted, drained/);
    expect(leftAs(rec(['drain', 'readmit']), 'node-3')).toMatchObject({ drained: false, text: 'node-3 is back in service' });
  });

  it('a signal stops with exit 130, a lost lease with exit 1; both are recognised as stops', () => {
    const s = new StopController();
    expect(() => s.check('here')).not.toThrow();
    s.request('signal', 'SIGINT');
    s.request('lease_lost', 'ignored: the first reason wins');
    let err: unknown;
    try {
      s.check('quiesce of node-1');
    } catch (e) {
      err = e;
    }
    expect(isStop(err)).toBe(true);
    expect((err as any).exitCode).toBe(130);
    const l = new StopController();
    l.request('lease_lost', 'the maintenance lease "rolling-restart" was lost');
    expect(() => l.check('x')).toThrow(/lease "rolling-restart" was lost; stopped at the next safe point/);
    expect(l.signal.aborted).toBe(true);
  });
});
