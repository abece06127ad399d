/** The run log's file half (util/log.ts): kept lines until the run begins, mode 0600, append, retention, levels. */
import { mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLogSink, createRunLoggers, moreVerbose, pruneRunLogs } from '../../src/util/log.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'qr-runlog-'));
const lines = (f: string) => readFileSync(f, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

/** A console destination that keeps what it is given. */
function memory(): { write(s: string): void; text: string[] } {
  const text: string[] = [];
  return { text, write: (s) => void text.push(s) };
}

describe('run log', () => {
  it('keeps lines until opened, then writes them after the first line, mode 0600, in a 0700 runs dir', () => {
    const dir = join(tmp(), 'runs');
    const sink = new RunLogSink();
    const { log, record } = createRunLoggers('warn', 'info', sink, memory());
    log.info({ event: 'early' }, 'before the run id');
    const file = join(dir, 'r1.ndjson');
    sink.open(file, 50, () => record.info({ event: 'run.log' }, 'header'));
    log.info({ event: 'later' }, 'after');
    sink.close();
    expect(lines(file).map((l) => l.event)).toEqual(['run.log', 'early', 'later']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('a sink never opened writes nothing; lines after close are dropped', () => {
    const dir = tmp();
    const sink = new RunLogSink();
    const { log } = createRunLoggers('info', 'info', sink, memory());
    log.info('never written');
    sink.close();
    log.info('after close');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('appends to an existing log (a resumed run) and makes it 0600', () => {
    const dir = tmp();
    const file = join(dir, 'r1.ndjson');
    writeFileSync(file, '{"event":"first"}\n');
    chmodSync(file, 0o644);
    const sink = new RunLogSink();
    const { log } = createRunLoggers('silent', 'info', sink);
    sink.open(file, 50);
    log.info({ event: 'second' });
    sink.close();
    expect(lines(file).map((l) => l.event)).toEqual(['first', 'second']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('console and file levels apart: the file at info gets what a warn console does not, and the reverse for debug', () => {
    const dir = tmp();
    const sink = new RunLogSink();
    const con = memory();
    const { log, record } = createRunLoggers('warn', 'info', sink, con);
    sink.open(join(dir, 'r.ndjson'), 5);
    log.debug({ event: 'd' });
    log.info({ event: 'i' });
    log.warn({ event: 'w' });
    record.info({ event: 'only-file' });
    sink.close();
    expect(lines(join(dir, 'r.ndjson')).map((l) => l.event)).toEqual(['i', 'w', 'only-file']);
    expect(con.text.map((t) => JSON.parse(t).event)).toEqual(['w']);
  });

  it('redacts secrets in the file as on the console', () => {
    const dir = tmp();
    const sink = new RunLogSink();
    const { log } = createRunLoggers('silent', 'info', sink);
    sink.open(join(dir, 'r.ndjson'), 5);
    log.info({ headers: { authorization: 'Bearer s3cret' }, token: 's3cret', lease: { token: 's3cret' } }, 'call');
    sink.close();
    expect(readFileSync(join(dir, 'r.ndjson'), 'utf8')).not.toContain('s3cret');
  });

  it('moreVerbose', () => {
    expect(moreVerbose('warn', 'info')).toBe('info');
    expect(moreVerbose('debug', 'info')).toBe('debug');
    expect(moreVerbose('silent', 'info')).toBe('info');
    expect(moreVerbose('error', 'silent')).toBe('error');
  });

  it('retention keeps the newest `keep` logs by modification time, the current one always', () => {
    const dir = tmp();
    for (let i = 1; i <= 5; i++) {
      const f = join(dir, `r${i}.ndjson`);
      writeFileSync(f, '{}\n');
      utimesSync(f, 1_000 + i, 1_000 + i);
    }
    writeFileSync(join(dir, 'notes.txt'), 'not a log');
    // `quantum-roll report` writes <run id>.html beside a log: it goes with its log, not otherwise
    writeFileSync(join(dir, 'r3.html'), '<html>');
    writeFileSync(join(dir, 'r5.html'), '<html>');
    utimesSync(join(dir, 'r1.ndjson'), 9_000, 9_000); // appended to by a resume: newest
    expect(pruneRunLogs(dir, 3, 'r2.ndjson').sort()).toEqual(['r3.ndjson', 'r4.ndjson']);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'r1.ndjson', 'r2.ndjson', 'r5.html', 'r5.ndjson']);
  });
});
