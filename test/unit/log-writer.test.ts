/**
 * util/log.ts writes its ndjson lines itself (issue 21: pino left the start-up path).
 * The lines are the ones pino wrote with the options the CLI used: same keys in the same
 * order, same redaction, same levels, children's bindings, and a multistream's order.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type LogLevel, type Logger, RunLogSink, createLogger, createRunLoggers } from '../../src/util/log.js';

const REDACT = ['token', '*.token', '*.*.token', 'authorization', '*.authorization', '*.*.authorization', 'headers.authorization', '*.headers.authorization', 'headers.cookie', '*.headers.cookie', 'lease.token', 'password', '*.password'];

/** pino as util/log.ts configured it before. */
function pinoLogger(level: LogLevel, dest: { write(s: string): void }): Logger {
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    dest,
  );
}

const sameTime = (lines: string[]) => lines.map((l) => l.replace(/"time":"[^"]+"/, '"time":"T"'));

function exercise(log: Logger): void {
  log.info(
    { event: 'a', n: 1, u: undefined, f: () => 1, inf: Infinity, nested: { token: 'x', deep: { token: 'y', authorization: 'z' }, headers: { authorization: 'q', cookie: 'c' } }, token: 't', password: 'p', arr: [{ token: 'in-array' }, 1], lease: { token: 'l', id: 2 }, s: 'a"b\n\u2028é' },
    'hello "x"',
  );
  log.debug('just a message');
  log.trace({ event: 'below the level' });
  log.warn({ event: 'w' });
  const c = log.child({ run_id: 'r1', token: 'child secret' });
  c.error({ event: 'e', err: 'boom' }, 'bad');
  c.child({ node: 'n1' }).info({ event: 'grand' }, 'g');
  log.child(c.bindings()).info({ event: 'rebound' });
  log.info({ headers: { authorization: 'Bearer s' }, req: { headers: { authorization: 'B', cookie: 'k' } }, x: { password: 'pw' }, y: { z: { password: 'kept: deeper than *.password' } } }, 'm');
  log.info({ msg: 'a field named msg', event: 'own msg' });
  log.info({ event: 'values', a: null, d: new Date(0), list: [1, 'two', null], b: true });
  log.fatal({ event: 'f' }, 'fatal');
}

describe('the ndjson writer', () => {
  it('writes the lines pino wrote, byte for byte (time aside)', () => {
    for (const level of ['debug', 'info', 'error', 'silent'] as const) {
      const ours: string[] = [];
      const theirs: string[] = [];
      exercise(createLogger(level, { write: (s) => void ours.push(s) }));
      exercise(pinoLogger(level, { write: (s) => void theirs.push(s) }));
      expect(sameTime(ours)).toEqual(sameTime(theirs));
    }
  });

  it('never changes the object it logs', () => {
    const obj = { token: 's', nested: { headers: { authorization: 'a' } }, list: [{ password: 'p' }] };
    const copy = structuredClone(obj);
    createLogger('info', { write: () => {} }).info(obj, 'x');
    expect(obj).toEqual(copy);
  });

  it('a run: console and file streams get the lines of their levels, the more verbose stream first, as pino.multistream', () => {
    const out: string[] = [];
    const sink = new RunLogSink();
    sink.write = (s: string) => void out.push(`file ${s}`);
    const { log, record } = createRunLoggers('warn', 'info', sink, { write: (s) => void out.push(`console ${s}`) });
    log.debug({ event: 'd' });
    log.info({ event: 'i' });
    log.warn({ event: 'w' });
    record.info({ event: 'r' });
    expect(out.map((l) => `${l.split(' ')[0]} ${JSON.parse(l.slice(l.indexOf(' ') + 1)).event}`)).toEqual(['file i', 'file w', 'console w', 'file r']);
  });
});
