import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, type JournalData, emptyNodeRecord } from '../../src/run/journal.js';

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
