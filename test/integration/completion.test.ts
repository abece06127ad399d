/**
 * `quantum-roll completion bash|zsh|fish` (issue 15, item 5): each script is valid for its
 * shell (`bash -n`, `zsh -n`, `fish -n`; a shell that is not installed is skipped, saying
 * so), names every command of `--help`, and — where the shell can be driven from a test —
 * completes commands, subcommands, options and option values.
 */
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const has = (shell: string) => {
  try {
    execFileSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const shells = { bash: has('bash'), zsh: has('zsh'), fish: has('fish') };
for (const [sh, ok] of Object.entries(shells)) {
  if (!ok) console.warn(`completion tests: ${sh} is not installed here; its syntax check is skipped (apt-get install ${sh})`);
}

describe('completion', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'qr-completion-'));
  const scripts: Record<string, string> = {};
  let commands: string[] = [];

  beforeAll(async () => {
    const help = await runCli(['--help']);
    const section = help.stdout.split(/^Commands:$/m)[1]!.split(/^\S/m)[0]!;
    commands = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    for (const sh of ['bash', 'zsh', 'fish']) {
      const r = await runCli(['completion', sh]);
      expect(r.code, r.stderr).toBe(0);
      scripts[sh] = r.stdout;
      writeFileSync(join(dir, `quantum-roll.${sh}`), r.stdout);
    }
  });

  it('names every command of --help, and the options of each', () => {
    expect(commands).toEqual(expect.arrayContaining(['restart', 'plan', 'status', 'check', 'completion', 'placement', 'sim']));
    for (const sh of ['bash', 'zsh', 'fish']) {
      for (const c of commands) expect(scripts[sh], `${sh}: ${c}`).toMatch(new RegExp(`\\b${c}\\b`));
      for (const opt of ['all', 'parallel', 'metrics-file', 'quiet', 'state-dir']) expect(scripts[sh], `${sh}: --${opt}`).toContain(opt);
    }
  });

  it.runIf(shells.bash)('bash -n accepts the bash script', async () => {
    expect((await execa('bash', ['-n', join(dir, 'quantum-roll.bash')], { reject: false })).exitCode).toBe(0);
  });
  it.runIf(shells.zsh)('zsh -n accepts the zsh script', async () => {
    expect((await execa('zsh', ['-n', join(dir, 'quantum-roll.zsh')], { reject: false })).exitCode).toBe(0);
  });
  it.runIf(shells.fish)('fish -n accepts the fish script', async () => {
    expect((await execa('fish', ['-n', join(dir, 'quantum-roll.fish')], { reject: false })).exitCode).toBe(0);
  });

  it.runIf(shells.bash)('bash completes commands, subcommands after global options, options and their values', async () => {
    const driver = `source ${join(dir, 'quantum-roll.bash')}
t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _quantum_roll; echo "\${COMPREPLY[*]}"; }
t quantum-roll pl
t quantum-roll --config x.yaml placement ''
t quantum-roll restart node-1 --par
t quantum-roll restart --log-level ''
t quantum-roll completion ''
complete -p quantum-roll`;
    const out = (await execa('bash', ['-c', driver])).stdout.split('\n');
    expect(out).toEqual(['plan placement', 'check', '--parallel', 'fatal error warn info debug trace silent', 'bash zsh fish', 'complete -F _quantum_roll quantum-roll']);
  });

  it.runIf(shells.fish)('fish completes subcommands and option values', async () => {
    const r = await execa('fish', ['-c', `source ${join(dir, 'quantum-roll.fish')}; complete -C "quantum-roll --config x.yaml placement "; complete -C "quantum-roll completion "`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.split('\t')[0])).toEqual(['check', 'bash', 'fish', 'zsh']);
  });

  it('an unknown shell is a usage error (exit 2)', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bash, zsh, fish/);
  });
});
