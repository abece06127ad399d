/**
 * `quantum-roll check` against the simulator (issue 15, item 3): passes on a healthy
 * cluster with one line per check, exit 1 naming the endpoint when the CP URL is wrong or
 * a node's admin API is unreachable, exit 2 with every problem on a bad config, and it
 * sends nothing that changes anything (the simulator records every call).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { changing, now, runCli, startCluster, type CliResult, type TestCluster } from '../support/cli.js';

describe('check', { timeout: 180_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 4, racks: 2, prgs: 40 });
  });
  afterAll(async () => c?.stop());

  /** Runs check against a variant of the simulator's config, written to its own file. */
  const withConfig = async (name: string, change: (cfg: Record<string, any>) => void, args: string[] = ['--json']): Promise<CliResult> => {
    const cfg = parse(await readFile(c.config, 'utf8')) as Record<string, any>;
    change(cfg);
    const file = join(c.dir, `${name}.yaml`);
    writeFileSync(file, stringify(cfg));
    return runCli(['check', '--config', file, ...args], { cwd: c.dir });
  };
  const failed = (r: CliResult) => ((r.json as any).checks as any[]).filter((x) => x.status === 'fail');

  it('passes against `sim start`: every check passes, one per node admin API and LB member, and only reads are sent', async () => {
    const since = now();
    const r = await c.cli(['check']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const j = r.json as any;
    expect(j).toMatchObject({ ok: true, exit_code: 0, config_file: c.config, config_source: '--config' });
    const names = (j.checks as any[]).map((x) => x.name);
    expect(names).toEqual(
      expect.arrayContaining(['config', 'state dir', 'restart command', 'cp /readyz', 'cp /v1/features', 'node node-1 admin API', 'lb member node-4']),
    );
    for (const id of ['node-1', 'node-2', 'node-3', 'node-4']) {
      expect(names.filter((n: string) => n.endsWith(id) || n.startsWith(`node ${id} `))).toHaveLength(2);
    }
    expect((j.checks as any[]).filter((x) => x.status !== 'pass')).toEqual([]);

    const calls = await c.callsSince(since);
    expect(calls.some((x) => x.system === 'cp' && x.path === '/readyz')).toBe(true);
    expect(calls.some((x) => x.system === 'cp' && x.path === '/v1/features')).toBe(true);
    expect(new Set(calls.filter((x) => x.system === 'node' && x.path === '/v1/node').map((x) => x.node))).toEqual(new Set(['node-1', 'node-2', 'node-3', 'node-4']));
    expect(calls.filter((x) => x.system === 'lb').length).toBeGreaterThanOrEqual(4);
    expect(changing(calls)).toEqual([]);
  });

  it('text mode: one line per check, ✓ each, a summary, and the state dir probe leaves nothing behind', async () => {
    const { readdirSync, existsSync } = await import('node:fs');
    const before = existsSync(c.dir) ? readdirSync(c.dir).sort() : [];
    const r = await runCli(['check', '--config', c.config], { cwd: c.dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const checks = lines.filter((l) => /^[✓✗!-] /.test(l));
    expect(checks.length).toBe(5 + 4 * 2);
    expect(checks.every((l) => l.startsWith('✓ '))).toBe(true);
    expect(r.stdout).toMatch(/^✓ node node-2 admin API\s+\S/m);
    expect(lines.at(-1)).toBe(`${checks.length} passed, 0 failed`);
    expect(readdirSync(c.dir).sort()).toEqual(before);
  });

  it('--quiet prints nothing on stdout when all pass; --json still prints its document', async () => {
    const r = await runCli(['check', '--config', c.config, '--quiet'], { cwd: c.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const j = await runCli(['check', '--config', c.config, '--quiet', '--json'], { cwd: c.dir });
    expect(j.json).toMatchObject({ ok: true });
  });

  it('a wrong CP URL: exit 1, the failing checks name the endpoint, nothing changes', async () => {
    const since = now();
    const r = await withConfig('wrong-cp', (cfg) => (cfg.control_plane.url = 'http://127.0.0.1:1'));
    expect(r.code, r.stdout).toBe(1);
    const bad = failed(r);
    const readyz = bad.find((x) => x.name === 'cp /readyz');
    expect(readyz).toMatchObject({ endpoint: 'http://127.0.0.1:1/readyz', key: 'control_plane.url', fix: expect.stringMatching(/control_plane\.url/) });
    expect(readyz.detail).toMatch(/127\.0\.0\.1:1/);
    expect((r.json as any).error.message).toMatch(/cp \/readyz/);
    const text = await withConfig('wrong-cp-text', (cfg) => (cfg.control_plane.url = 'http://127.0.0.1:1'), []);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^✗ cp \/readyz\s+.*127\.0\.0\.1:1.*; fix: check control_plane\.url/m);
    expect(changing(await c.callsSince(since))).toEqual([]);
  });

  it('a token file readable by others and a restart program not on PATH: exit 1, each names its key and the fix', async () => {
    const token = join(c.dir, 'node.token');
    writeFileSync(token, 'tok-abcdef\n');
    chmodSync(token, 0o644);
    const r = await withConfig('loose', (cfg) => {
      cfg.node_api = { ...cfg.node_api, token_file: token };
      cfg.restart.command = ['quantum-roll-no-such-program', '{node}'];
    });
    expect(r.code, r.stdout).toBe(1);
    const bad = failed(r);
    expect(bad.find((x) => x.key === 'node_api.token_file')).toMatchObject({ fix: `chmod 600 ${token}`, detail: expect.stringMatching(/mode 644/) });
    expect(bad.find((x) => x.key === 'restart.command')).toMatchObject({ detail: expect.stringMatching(/quantum-roll-no-such-program is not on PATH/) });
    expect(r.stdout).not.toContain('tok-abcdef');
  });

  it("the canary's password file and TLS key are secret files too: a loose mode fails naming the key (issue 20, item 6)", async () => {
    const { createCa, issueCert } = await import('../../src/sim/tls.js');
    const ca = createCa(c.dir, 'canary-ca');
    const pair = issueCert(ca, c.dir, 'canary-client', { cn: 'canary', usage: 'client' });
    const password = join(c.dir, 'canary.password');
    writeFileSync(password, 'pw-5e1d0c\n');
    chmodSync(password, 0o640);
    chmodSync(pair.key, 0o644);
    const r = await withConfig('canary-loose', (cfg) => {
      cfg.canary = { front_door: '127.0.0.1:1', timeout: '1s', username_env: 'HOME', password_file: password, tls: { ca_file: ca.cert, cert_file: pair.cert, key_file: pair.key } };
    });
    expect(r.code, r.stdout).toBe(1);
    const bad = failed(r);
    expect(bad.find((x) => x.key === 'canary.password_file')).toMatchObject({ fix: `chmod 600 ${password}`, detail: expect.stringMatching(/mode 640/) });
    expect(bad.find((x) => x.key === 'canary.tls.key_file')).toMatchObject({ fix: `chmod 600 ${pair.key}`, detail: expect.stringMatching(/mode 644/) });
    expect(r.stdout).not.toContain('pw-5e1d0c');
    chmodSync(password, 0o600);
    chmodSync(pair.key, 0o600);
    const tight = await withConfig('canary-tight', (cfg) => {
      cfg.canary = { front_door: '127.0.0.1:1', timeout: '1s', username_env: 'HOME', password_file: password, tls: { ca_file: ca.cert, cert_file: pair.cert, key_file: pair.key } };
    });
    const checks = (tight.json as any).checks as any[];
    expect(checks.find((x) => x.key === 'canary.password_file')).toMatchObject({ status: 'pass' });
    expect(checks.find((x) => x.key === 'canary.tls.key_file')).toMatchObject({ status: 'pass' });
  });

  it('its help says what it writes: one canary message to its own topic, nothing else in the cluster (issue 20, item 6)', async () => {
    const r = await runCli(['check', '--help']);
    expect(r.stdout).toMatch(/changes nothing in the cluster/);
    expect(r.stdout).toMatch(/publishes one message to its own topic/);
    expect(r.stdout).not.toMatch(/read only/);
  });

  it('a bad config: exit 2, every problem listed with its key and line, nothing sent', async () => {
    const since = now();
    const file = join(c.dir, 'broken.yaml');
    writeFileSync(file, 'control_plane:\n  url: ftp://cp\nrestart:\n  command: []\nquiesce: {grace: soon}\n');
    const r = await runCli(['check', '--config', file, '--json'], { cwd: c.dir });
    expect(r.code).toBe(2);
    const j = r.json as any;
    expect(j).toMatchObject({ ok: false, exit_code: 2, config_file: file, error: { message: expect.stringContaining('3 problems') } });
    expect((j.checks as any[]).map((x) => [x.key, x.status])).toEqual([
      ['control_plane.url', 'fail'],
      ['restart.command', 'fail'],
      ['quiesce.grace', 'fail'],
    ]);
    expect(j.checks[1].detail).toMatch(/^line 4: restart\.command: /);
    const text = await runCli(['check', '--config', file], { cwd: c.dir });
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/^✗ config\s+line 2: control_plane\.url: must be an http/m);
    expect(await c.callsSince(since)).toEqual([]);
  });

  // Last: it stops a node of the shared cluster.
  it("one node's admin API unreachable: exit 1 naming that node's endpoint; the others still pass", async () => {
    const node3 = c.sim.nodes.find((n) => n.id === 'node-3')!;
    await c.sim.stopNode('node-3');
    const since = now();
    const r = await c.cli(['check']);
    expect(r.code, r.stdout).toBe(1);
    const bad = failed(r);
    const admin = bad.find((x) => x.name === 'node node-3 admin API');
    expect(admin).toBeDefined();
    expect(admin.endpoint).toBe(`${node3.adminUrl}/v1/node`);
    expect(admin.detail).toContain(new URL(node3.adminUrl).host);
    for (const id of ['node-1', 'node-2', 'node-4']) {
      expect((r.json as any).checks.find((x: any) => x.name === `node ${id} admin API`).status).toBe('pass');
    }
    expect(changing(await c.callsSince(since))).toEqual([]);
  });
});
