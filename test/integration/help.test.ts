/**
 * The program's face (issue 15): `--version` is package.json's, and `--help` of the program
 * and of every command shows examples; the commands that change something also list the
 * exit codes. `--quiet` keeps stdout empty but errors still reach stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('version and help', { timeout: 60_000 }, () => {
  it('--version and -V print the version of package.json', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { cwd: '/tmp' });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  const changing = ['restart', 'resume', 'drain', 'undrain', 'transfer-leaders'];
  const reading = ['plan', 'status', 'check', 'demo', 'completion'];

  it('the program and every command show examples; changing commands and check show exit codes', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/\nExamples:\n {2}\$ quantum-roll /);
    expect(top.stdout).toMatch(/\nExit codes:\n {2}0 {4}done\n/);
    for (const cmd of [...changing, ...reading, 'placement check']) {
      const r = await runCli([...cmd.split(' '), '--help']);
      expect(r.code, cmd).toBe(0);
      const examples = r.stdout.split('\nExamples:\n')[1]?.split('\n\n')[0] ?? '';
      const count = examples.split('\n').filter((l) => l.startsWith('  $ quantum-roll ') || l.startsWith('  $ source ')).length;
      expect(count, `${cmd}: examples`).toBeGreaterThanOrEqual(2);
      if (changing.includes(cmd)) {
        expect(r.stdout, cmd).toMatch(/Exit codes:[\s\S]* 3 +refused[\s\S]* 4 +the maintenance lease[\s\S]* 130 +interrupted/);
      }
    }
    expect((await runCli(['check', '--help'])).stdout).toMatch(/Exit codes:\n {2}0 +every check passed\n {2}1 +a check failed[^\n]*\n {2}2 +configuration error/);
  });

  it('the simulator\'s commands: --help exits 0, a usage error exits 2 with commander\'s message (no internal error)', async () => {
    for (const cmd of ['sim --help', 'sim start --help', 'sim load --help', 'sim restart-node --help']) {
      const r = await runCli(cmd.split(' '));
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stdout, cmd).toMatch(/Usage: /);
      expect(r.stderr, cmd).not.toMatch(/internal error/);
    }
    const bad = await runCli(['sim', 'start', '--nodes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option '--nodes <n>' argument missing/);
    expect(bad.stderr).not.toMatch(/internal error/);
  });

  it('--quiet: stdout stays empty, an error still goes to stderr with its exit code', async () => {
    const r = await runCli(['status', '--quiet', '--config', '/nonexistent/quantum-roll.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/\/nonexistent\/quantum-roll\.yaml.*config file not found/);
    const j = await runCli(['status', '--quiet', '--json', '--config', '/nonexistent/quantum-roll.yaml']);
    expect(j.json).toMatchObject({ ok: false, exit_code: 2 });
  });

  it('a reader that goes away (`check --help | head`) is no error: exit 0, no stack on stderr', async () => {
    const p = spawn(process.execPath, [CLI, 'check', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.destroy(); // the pipe's reader is gone before the help is written
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => p.on('close', r));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(code).toBe(0);
  });
});
