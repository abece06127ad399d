/** The --metrics-file is readable by node_exporter's textfile collector (its own user): mode 0644, whatever the umask; written by rename. */
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsReporter } from '../../src/render/metrics-file.js';
import { silentReporter } from '../../src/steps/reporter.js';

describe('metrics file mode', () => {
  const saved = process.umask();
  afterEach(() => void process.umask(saved));

  it('is 0644 from the first write to the last, under a umask of 077, leaving no temp file', () => {
    process.umask(0o077);
    const dir = mkdtempSync(join(tmpdir(), 'qr-metrics-mode-'));
    const file = join(dir, 'quantum-roll.prom');
    const m = metricsReporter(silentReporter, file, 'r1', Date.now(), { waves: [['node-1']] });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    m.stepStarted('node-1', 'precheck');
    m.stepEnded('node-1', 'precheck', 'done', 5, 'ok');
    m.finish('done');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['quantum-roll.prom']);
  });

  it('replaces a file of another mode (left by an older version) with a 0644 one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-metrics-mode-'));
    const file = join(dir, 'quantum-roll.prom');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o600);
    // Held open, the old file shows whether it was rewritten in place (its content changes)
    // or replaced by a new file renamed over it (it keeps its content). Inode numbers cannot
    // tell: a freed inode is reused by the next file created.
    const old = openSync(file, 'r');
    try {
      metricsReporter(silentReporter, file, 'r2', Date.now()).finish('done');
      expect(statSync(file).mode & 0o777).toBe(0o644);
      expect(readFileSync(old, 'utf8'), 'a new file renamed over the old one').toBe('old\n');
      expect(readFileSync(file, 'utf8')).toContain('quantum_roll_');
    } finally {
      closeSync(old);
    }
  });
});
