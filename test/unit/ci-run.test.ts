/**
 * Issue 20, item 9: CI that cannot lie. `.ci/run` stops with a true closing line when a
 * tool the tests need is missing after its install attempt (their tests would only skip),
 * and its closing line (`.ci/closing-line.mjs`) says "0 failed" only when the exit status
 * is 0: a build failure, an unhandled error, no report, a test file that did not load and
 * a test skipped outside the commented allow-list each count as a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'qr-ci-'));
let n = 0;

/** Runs the closing-line counter on a vitest report (undefined: none written). */
function closing(report: object | undefined, o: { extraPassed?: number; extraFailed?: number; status?: number; allowed?: string[] } = {}) {
  const file = join(dir, `report-${++n}.json`);
  if (report) writeFileSync(file, JSON.stringify(report));
  const r = spawnSync(process.execPath, [join(root, '.ci/closing-line.mjs'), file, String(o.extraPassed ?? 0), String(o.extraFailed ?? 0), String(o.status ?? 0)], {
    cwd: root,
    env: { ...process.env, SKIP_ALLOWED_LIST: (o.allowed ?? []).join('\n') },
    encoding: 'utf8',
  });
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, last: lines.at(-1)!, lines };
}

const file = (name: string, results: Array<[status: string, name: string]>, status = results.some(([s]) => s === 'failed') ? 'failed' : 'passed') => ({
  name: join(root, name),
  status,
  message: '',
  assertionResults: results.map(([s, fullName]) => ({ status: s, fullName })),
});
const report = (files: ReturnType<typeof file>[]) => {
  const all = files.flatMap((f) => f.assertionResults);
  return { numPassedTests: all.filter((a) => a.status === 'passed').length, numFailedTests: all.filter((a) => a.status === 'failed').length, testResults: files };
};

describe('the closing line agrees with the exit status', () => {
  it('all passed: "N passed, 0 failed", exit 0 (the checks of .ci/run counted in)', () => {
    const r = closing(report([file('test/unit/a.test.ts', [['passed', 'a one'], ['passed', 'a two']])]), { extraPassed: 3 });
    expect(r).toMatchObject({ code: 0, last: '5 passed, 0 failed' });
  });

  it('a build failure (no report, status 1): "0 passed, 1 failed", exit 1', () => {
    expect(closing(undefined, { status: 1 })).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
  });

  it('no report although the command exited 0: a failure, not "0 failed"', () => {
    expect(closing(undefined, { status: 0 })).toMatchObject({ code: 1, last: '0 passed, 1 failed' });
  });

  it('an unhandled error (status 1, every test passed): one failure', () => {
    const r = closing(report([file('test/unit/a.test.ts', [['passed', 'a one']])]), { status: 1 });
    expect(r.code).toBe(1);
    expect(r.last).toBe('1 passed, 1 failed');
    expect(r.lines).toContainEqual(expect.stringMatching(/^FAIL: the test command exited 1 with no failed test/));
  });

  it('a test file that did not load counts as one failure; a failed check of .ci/run as one each', () => {
    const r = closing(report([file('test/unit/a.test.ts', [], 'failed'), file('test/unit/b.test.ts', [['passed', 'b']])]), { status: 1, extraFailed: 2 });
    expect(r).toMatchObject({ code: 1, last: '1 passed, 3 failed' });
  });

  it('a skipped test not on the allow-list fails CI, naming it; one on the list is counted apart', () => {
    const rep = report([file('test/integration/completion.test.ts', [['passed', 'completion bash'], ['skipped', 'completion zsh -n accepts the zsh script'], ['pending', 'completion fish']])]);
    const strict = closing(rep);
    expect(strict).toMatchObject({ code: 1, last: '1 passed, 2 failed' });
    expect(strict.lines).toContain('FAIL: skipped, and not on SKIP_ALLOWED in .ci/run: test/integration/completion.test.ts > completion zsh -n accepts the zsh script');
    const listed = closing(rep, { allowed: ['test/integration/completion.test.ts > completion zsh -n accepts the zsh script', 'test/integration/completion.test.ts > completion fish'] });
    expect(listed).toMatchObject({ code: 0, last: '1 passed, 0 failed, 2 skipped (allowed)' });
  });
});

describe('.ci/run', () => {
  const script = readFileSync(join(root, '.ci/run'), 'utf8');

  it('the skip allow-list is explicit, and every entry has its reason in a comment above it', () => {
    const block = /^SKIP_ALLOWED=\(\n([\s\S]*?)^\)/m.exec(script);
    expect(block, 'SKIP_ALLOWED=( … ) in .ci/run').not.toBeNull();
    const lines = block![1]!.split('\n').map((l) => l.trim());
    lines.forEach((l, i) => {
      if (l === '' || l.startsWith('#')) return;
      expect(lines[i - 1], `the reason for ${l}`).toMatch(/^#/);
    });
  });

  it('installs zsh and fish for the completion tests', () => {
    expect(script).toMatch(/for shell in zsh fish/);
  });

  it('a tool still missing after its install attempt fails CI before the tests, with a true closing line', () => {
    // A PATH with only what the script needs before npm: no haproxy, redis-server, zsh, fish, npm; apt-get fails.
    const bin = mkdtempSync(join(tmpdir(), 'qr-ci-bin-'));
    symlinkSync(execFileSync('/bin/sh', ['-c', 'command -v dirname'], { encoding: 'utf8' }).trim(), join(bin, 'dirname'));
    writeFileSync(join(bin, 'apt-get'), '#!/bin/sh\necho "apt-get: no network here" >&2\nexit 100\n');
    chmodSync(join(bin, 'apt-get'), 0o755);
    const r = spawnSync('/bin/bash', [join(root, '.ci/run')], { env: { PATH: bin, HOME: dir }, encoding: 'utf8', timeout: 60_000 });
    const lines = r.stdout.trim().split('\n');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(lines).toContainEqual('FAIL: not installed after the install attempt: haproxy redis-server zsh fish chromium (their tests would be skipped)');
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
    expect(r.stderr).not.toMatch(/npm/);
  });
});
