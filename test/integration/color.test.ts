/**
 * One colour policy end to end (issue 15, item 5): off a TTY `status` has no colour;
 * FORCE_COLOR=1 colours it, NO_COLOR=1 does not, and --no-color wins over FORCE_COLOR.
 * (On a terminal, with the run log's lack of codes: run-log.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { runCli, type TestCluster } from '../support/cli.js';
import { useCluster } from '../support/inspect.js';

// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[[0-9;]*m/;

describe('colour policy (status, off a TTY)', { timeout: 120_000 }, () => {
  let c!: TestCluster;
  useCluster((cl) => (c = cl));
  const status = (env: Record<string, string>, extra: string[] = []) => runCli(['status', '--config', c.config, ...extra], { cwd: c.dir, env });

  it('plain by default, coloured with FORCE_COLOR=1, plain with NO_COLOR=1 or --no-color', async () => {
    const plain = await status({});
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/node-1/);
    expect(plain.stdout).not.toMatch(ESC);

    const forced = await status({ FORCE_COLOR: '1' });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(ESC);
    // Colour does not change the words: without its codes it is the plain view.
    expect(forced.stdout.replace(new RegExp(ESC.source, 'g'), '').split('\n').length).toBe(plain.stdout.split('\n').length);

    const no = await status({ NO_COLOR: '1' });
    expect(no.stdout).not.toMatch(ESC);

    const flag = await status({ FORCE_COLOR: '1' }, ['--no-color']);
    expect(flag.code, flag.stderr).toBe(0);
    expect(flag.stdout).not.toMatch(ESC);
    const before = await runCli(['--no-color', 'status', '--config', c.config], { cwd: c.dir, env: { FORCE_COLOR: '1' } });
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout, '--no-color before the command').not.toMatch(ESC);
  });
});
