/**
 * Bearer tokens never leak: a full `restart` with a token (at `--log-level debug`, with
 * `--metrics-file`), the plan and the status, must not show the token in stdout,
 * stderr, the journal, the run log (runs/<run id>.ndjson) or the metrics file; a server that echoes the token in its error
 * does not get it into our message; a token file others can read is warned about.
 */
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli, startCluster, type CliResult, type TestCluster } from '../support/cli.js';

const TOKEN = `qr-secret-${randomBytes(12).toString('hex')}`;

function expectNoToken(where: string, text: string): void {
  expect(text.length, `${where} is not empty`).toBeGreaterThan(0);
  expect(text.includes(TOKEN), `${where} contains the bearer token`).toBe(false);
}

async function withCfg(c: TestCluster, name: string, change: (cfg: Record<string, any>) => void, args: string[], env: Record<string, string>): Promise<CliResult> {
  const cfg = parse(readFileSync(c.config, 'utf8')) as Record<string, any>;
  change(cfg);
  const file = join(c.dir, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  return runCli([...args, '--config', file, '--json'], { cwd: c.dir, env });
}

describe('secrets: a bearer token appears in no output', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ token: TOKEN });
  });
  afterAll(async () => c?.stop());

  it('a full restart at --log-level debug: not in stdout, stderr, the journal, the run log or the metrics file', async () => {
    const metrics = join(c.dir, 'run.prom');
    const r = await c.cli(['restart', 'node-2', '--yes', '--log-level', 'debug', '--metrics-file', metrics], { SIM_TOKEN: TOKEN });
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
    expectNoToken('stdout', r.stdout);
    expectNoToken('stderr', r.stderr);
    expect(r.stderr, 'debug logging was on').toMatch(/"level":"debug"/);
    const journal = readFileSync(join(c.dir, '.quantum-roll', 'journal.json'), 'utf8');
    expectNoToken('journal', journal);
    // The run log: the run's events at debug (the level asked for), every HTTP call's among them.
    const logFile = (r.json as any).log_file as string;
    const log = readFileSync(logFile, 'utf8');
    expectNoToken('run log', log);
    expect(log, 'the run log is at debug').toMatch(/"level":"debug"/);
    expect(log).toMatch(/"event":"run\.end"/);
    // Everything else the run left in its state dir, too (runs/ included).
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const all = files(join(c.dir, '.quantum-roll'));
    expect(all).toContain(logFile);
    for (const f of all) expectNoToken(f, readFileSync(f, 'utf8') || ' ');
    expectNoToken('metrics file', readFileSync(metrics, 'utf8'));
  });

  it('plan and status at --log-level trace: not in their output', async () => {
    for (const args of [['plan', 'node-3', '--verbose'], ['status'], ['restart', 'node-3', '--dry-run']]) {
      const r = await c.cli([...args, '--log-level', 'trace'], { SIM_TOKEN: TOKEN });
      expect(r.code, `${args.join(' ')}: ${r.stdout}\n${r.stderr.slice(-1000)}`).toBe(0);
      expectNoToken(`${args[0]} stdout`, r.stdout);
      if (r.stderr) expectNoToken(`${args[0]} stderr`, r.stderr);
    }
  });

  it('a wrong token: exit 1 with the 401 named, and neither token in the message', async () => {
    const wrong = `${TOKEN}-wrong`;
    const r = await c.cli(['status', '--log-level', 'debug'], { SIM_TOKEN: wrong });
    expect(r.code).toBe(1);
    expect((r.json as any).error.message).toMatch(/401 unauthorized/);
    expectNoToken('stdout', r.stdout);
    expect(r.stdout.includes(wrong) || r.stderr.includes(wrong)).toBe(false);
  });

  it('drain and undrain at --log-level trace: their run logs hold no token', async () => {
    const r = await c.cli(['drain', 'node-3', '--yes', '--log-level', 'trace'], { SIM_TOKEN: TOKEN });
    expect(r.code, r.stderr.slice(-1000)).toBe(0);
    const undrain = await c.cli(['undrain', 'node-3', '--yes', '--log-level', 'trace'], { SIM_TOKEN: TOKEN });
    expect(undrain.code, undrain.stderr.slice(-1000)).toBe(0);
    for (const x of [r, undrain]) {
      const log = readFileSync((x.json as any).log_file, 'utf8');
      expectNoToken('run log', log);
      expect(log).toMatch(/"event":"run\.end"/);
    }
  });

  it('an unset token variable is a config error naming the key, before anything is sent', async () => {
    const r = await c.cli(['status'], {});
    expect(r.code).toBe(2);
    expect((r.json as any).error.message).toMatch(/control_plane\.token_env: environment variable SIM_TOKEN is not set or empty/);
  });

  it('a token_file readable by group/others works but is warned about on stderr; mode 0600 is not', async () => {
    const tokenFile = join(c.dir, 'cp.token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    chmodSync(tokenFile, 0o644);
    const useFile = (cfg: Record<string, any>) => {
      delete cfg.control_plane.token_env;
      cfg.control_plane.token_file = tokenFile;
    };
    const loose = await withCfg(c, 'token-file', useFile, ['status', '--log-level', 'error'], { SIM_TOKEN: TOKEN });
    expect(loose.code, loose.stderr).toBe(0);
    const warning = loose.stderr.split('\n').find((l) => l.includes(tokenFile));
    expect(warning).toMatch(/readable or writable by group\/others \(mode 644\); restrict it: chmod 600/);
    expectNoToken('stderr', loose.stderr);
    chmodSync(tokenFile, 0o600);
    const tight = await withCfg(c, 'token-file', useFile, ['status', '--log-level', 'error'], { SIM_TOKEN: TOKEN });
    expect(tight.code).toBe(0);
    expect(tight.stderr).not.toContain(tokenFile);
  });
});

describe('secrets: a server that echoes the token', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    // Answers every request 401 with the Authorization header it received in the message.
    server = http.createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: `rejected credentials: ${req.headers.authorization ?? ''}` } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('the echoed token is redacted from the error message', async () => {
    const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'qr-echo-'));
    const file = join(dir, 'quantum-roll.yaml');
    writeFileSync(file, stringify({ control_plane: { url, token_env: 'CP_TOKEN' }, restart: { command: ['true'] } }));
    const r = await runCli(['status', '--config', file, '--json', '--log-level', 'trace'], { cwd: dir, env: { CP_TOKEN: TOKEN } });
    expect(r.code).toBe(1);
    const msg: string = (r.json as any).error.message;
    expect(msg).toMatch(/answered 401 unauthorized: rejected credentials: Bearer \[redacted\]/);
    expectNoToken('stdout', r.stdout);
    if (r.stderr) expectNoToken('stderr', r.stderr);
  });
});
