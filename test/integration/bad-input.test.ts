/**
 * Issue 20, item 1, as an operator meets it: a config mistake (`restart.timeout: 600h` or
 * `0s`, `{nodeid}` in restart.command, a typo in the exec adapter's argv, a
 * server_reference that is not host:port) makes `restart` and `plan` exit 2 **without a
 * single request to the cluster** — the control plane here is a listener that counts
 * what it receives (and proves it counts: a good config reaches it) — and `check` names
 * the key. `--config ''`, `--state-dir ''` and `--parallel 1e2` are usage errors too.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../support/cli.js';

let server: Server;
let url: string;
const received: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'qr-bad-input-'));

beforeAll(async () => {
  // Answers nothing useful: any request at all is what the tests count.
  server = createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

type Raw = Record<string, any>;
const good = (): Raw => ({
  control_plane: { url, request_timeout: '1s' },
  restart: { command: ['ssh', '{node}', 'sudo', 'systemctl', 'restart', 'quantum'], timeout: '2m' },
});

let n = 0;
function configFile(raw: Raw): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

/** Runs the CLI and returns its result with the requests the cluster received meanwhile. */
async function run(args: string[]) {
  const before = received.length;
  const r = await runCli(args, { cwd: dir });
  return { ...r, requests: received.slice(before) };
}

const MISTAKES: Array<[what: string, change: (c: Raw) => void, key: string]> = [
  ['restart.timeout: 600h', (c) => (c.restart.timeout = '600h'), 'restart.timeout'],
  ['restart.timeout: 0s', (c) => (c.restart.timeout = '0s'), 'restart.timeout'],
  ['{nodeid} in restart.command', (c) => (c.restart.command = ['ssh', '{nodeid}', 'sudo', 'systemctl', 'restart', 'quantum']), 'restart.command.1'],
  ['timeouts.ready: 0s', (c) => (c.timeouts = { ready: '0s' }), 'timeouts.ready'],
  [
    '{admin_url} in the exec adapter',
    (c) => (c.lb = { adapter: 'exec', drain: ['lbctl', 'drain', '{admin_url}'], enable: ['lbctl', 'enable', '{member}'], status: ['lbctl', 'status', '{member}'] }),
    'lb.drain.2',
  ],
  ['server_reference not host:port', (c) => (c.quiesce = { disconnect: { reason_code: 156, server_reference: 'mqtt-b.example.net' } }), 'quiesce.disconnect.server_reference'],
];

describe('config mistakes are caught at load, before anything is read from the cluster', { timeout: 60_000 }, () => {
  it('the listener counts: a good config reaches the cluster (so zero below means zero)', async () => {
    const r = await run(['restart', 'node-1', '--yes', '--json', '--config', configFile(good()), '--state-dir', join(dir, 'state')]);
    expect(r.code).not.toBe(2);
    expect(r.requests.length).toBeGreaterThan(0);
  });

  it.each(MISTAKES)('%s: restart and plan exit 2 with zero requests; check names the key', async (_what, change, key) => {
    const raw = good();
    change(raw);
    const config = configFile(raw);
    const restart = await run(['restart', 'node-1', '--yes', '--json', '--config', config, '--state-dir', join(dir, 'state')]);
    expect(restart.code, restart.stdout + restart.stderr).toBe(2);
    expect(restart.requests).toEqual([]);
    expect((restart.json as any).error.message).toContain(key);
    expect((restart.json as any).error.evidence.problems).toEqual([expect.objectContaining({ path: key })]);

    const plan = await run(['plan', 'node-1', '--json', '--config', config]);
    expect(plan.code).toBe(2);
    expect(plan.requests).toEqual([]);
    expect((plan.json as any).error.message).toContain(key);

    const check = await run(['check', '--json', '--config', config]);
    expect(check.code).toBe(2);
    expect(check.requests).toEqual([]);
    expect((check.json as any).checks).toEqual([expect.objectContaining({ name: 'config', status: 'fail', key })]);
    const text = await run(['check', '--config', config]);
    expect(text.stdout).toContain(key);
  });

  it.each([
    ["--config ''", ['restart', 'node-1', '--yes', '--json', '--config', ''], /--config is empty/],
    ["--state-dir ''", ['restart', 'node-1', '--yes', '--json', '--state-dir', ''], /--state-dir is empty/],
    ['--parallel 1e2', ['restart', '--all', '--yes', '--json', '--parallel', '1e2'], /--parallel must be a positive whole number/],
    ['--parallel 2.0', ['restart', '--all', '--yes', '--json', '--parallel', '2.0'], /--parallel/],
    ['--pause 600h', ['restart', '--all', '--yes', '--json', '--pause', '600h'], /--pause "600h" is longer than 24 days/],
  ])('%s: exit 2 naming the option, zero requests', async (_what, args, message) => {
    // A good config in the working directory: the search would find it if '' fell back to it.
    writeFileSync(join(dir, 'quantum-roll.yaml'), stringify(good()));
    const withConfig = args.includes('--config') ? args : [...args, '--config', configFile(good())];
    const r = await run(withConfig);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect((r.json as any).error.message).toMatch(message);
    expect(r.requests).toEqual([]);
  });
});
