// leftAs (src/run/pipeline.ts): what a stopped or failed step left the node as, from its journal record.
import { describe, expect, it } from 'vitest';
import { emptyNodeRecord } from '../../src/run/journal.js';
import { leftAs } from '../../src/run/pipeline.js';

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
});
