// A step's "at most" (its `waits().maxMs`, the plan's AT MOST column and the ETA's upper
// bound) covers every wait the step can make, including the re-reads before the restart
// command that wait only when the cluster changed under the run.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { restartStep } from '../../src/steps/restart.js';

const config = parseConfig(
  'control_plane: {url: "https://cp"}\nrestart: {command: [x], timeout: 40s}\ntimeouts: {ready: 50s, lb: 7s}\n',
  '/x/quantum-roll.yaml',
  {},
);

describe('restart step bound', () => {
  it('is the quorum re-read (timeouts.ready), the LB re-assertion (timeouts.lb), the command (restart.timeout) and the new boot_id (timeouts.ready)', () => {
    const w = restartStep.waits(config);
    expect(w.maxMs).toBe(50_000 + 7_000 + 40_000 + 50_000);
  });
});
