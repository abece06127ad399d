/**
 * What a start costs (issue 21): a command that speaks plain http to the cluster loads
 * neither node:tls (≈ 8 ms on Node 20) nor node:http2 (≈ 7 ms; undici's HTTP/2 client is
 * left out of the bundle, scripts/bundle.mjs). TLS itself is tested where it is used
 * (tls.test.ts, config.test.ts): those paths load node:tls when they need it.
 */
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI, type TestCluster } from '../support/cli.js';
import { useCluster } from '../support/inspect.js';

const SPY = resolve(dirname(fileURLToPath(import.meta.url)), '../support/builtins-spy.mjs');

async function builtinsOf(c: TestCluster, args: string[]): Promise<{ code: number | undefined; loaded: string[]; stderr: string }> {
  const file = join(await mkdtemp(join(tmpdir(), 'qr-builtins-')), 'loaded.json');
  const r = await execa(process.execPath, ['--import', SPY, CLI, ...args, '--config', c.config], {
    reject: false,
    env: { QUANTUM_ROLL_CONFIG: '', QR_TEST_BUILTINS_FILE: file },
    cwd: c.dir,
    stdin: 'ignore',
    timeout: 120_000,
  });
  return { code: r.exitCode, loaded: JSON.parse(await readFile(file, 'utf8')) as string[], stderr: r.stderr };
}

describe('built-in modules a plain-http start loads', { timeout: 240_000 }, () => {
  let c: TestCluster;
  useCluster((x) => (c = x));

  it('plan and a refused restart load http, not tls or http2', async () => {
    for (const args of [['plan', 'node-3', '--json'], ['restart', 'node-99', '--yes', '--json']]) {
      const r = await builtinsOf(c, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(args[0] === 'plan' ? 0 : 2);
      // It did talk HTTP to the cluster (the spy sees what it should)...
      expect(r.loaded, args.join(' ')).toContain('http');
      // ...and nothing of TLS or HTTP/2.
      expect(r.loaded.filter((m) => /^(tls|_tls_wrap|http2|internal\/http2\/)/.test(m)), args.join(' ')).toEqual([]);
    }
  });

  it('the bundle carries no HTTP/2 client: a server that picked h2 would be refused, not half-spoken', async () => {
    const meta = JSON.parse(await readFile(resolve(dirname(CLI), 'bundle-meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((i) => i.endsWith('undici/lib/dispatcher/client.js'))).toBe(true);
    expect(inputs.filter((i) => i.endsWith('undici/lib/dispatcher/client-h2.js'))).toEqual([]);
  });
});
