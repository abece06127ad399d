// StopController (src/util/stop.ts): a stop request honoured at the next safe point.
import { describe, expect, it } from 'vitest';
import { StopController, isStop } from '../../src/util/stop.js';

describe('StopController', () => {
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
