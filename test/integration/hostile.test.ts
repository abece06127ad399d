/**
 * Hostile remote data: a CP that reports shell metacharacters or a path as a node id,
 * loops its cursor, sends a 50 MB body, reports absurd numbers, or redirects to another
 * host. Each is refused with a clear error, exit 1, and no changing request after it
 * (the simulator records every call); the restart command never runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import * as z from 'zod';
import { HttpClient, MAX_BODY_BYTES } from '../../src/clients/http.js';
import { RuntimeClient } from '../../src/clients/runtime.js';
import { ProtocolError } from '../../src/util/errors.js';
import { substitute } from '../../src/util/run-argv.js';
import { defaultFaults } from '../../src/sim/index.js';
import { changing, now, runCli, startCluster, type CliResult, type TestCluster } from '../support/cli.js';

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function close(server: http.Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** exit 1, `--json` error naming the URL path and matching `what`. */
function expectRefused(r: CliResult, path: string, what: RegExp): string {
  expect(r.code, `${r.stdout}\n${r.stderr.slice(-1500)}`).toBe(1);
  const doc = r.json as any;
  expect(doc.ok).toBe(false);
  const msg: string = doc.error.message;
  expect(msg).toContain(path);
  expect(msg).toMatch(what);
  return msg;
}

describe('hostile CP responses (restart against the simulator)', () => {
  let c: TestCluster;
  let t0: number;
  beforeAll(async () => {
    c = await startCluster({ nodes: 5, prgs: 60 });
  });
  afterAll(async () => c?.stop());
  afterEach(async () => {
    // Nothing changed after the hostile answer: no request but reads, and the restart command never ran.
    expect(changing(await c.callsSince(t0))).toEqual([]);
    expect((await c.sim.events()).filter((e) => e.t >= t0 && (e.event === 'restart_command' || e.event === 'restart'))).toEqual([]);
    await c.sim.setFaults(defaultFaults());
  });

  it('a node id with shell metacharacters (node-1;reboot) is rejected by the response schema', async () => {
    await c.sim.setFaults({ hostileNodeId: true });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    const msg = expectRefused(r, '/v1/cluster/state', /field "nodes\.0\.id": must match \^\[a-z0-9\]/);
    expect(msg).toContain(c.sim.cpUrl);
  });

  it('a node id that is a path (../../x) is rejected the same way, also for --all', async () => {
    await c.sim.setFaults({ hostileNodeId: '../../x' });
    t0 = now();
    const r = await c.cli(['restart', '--all', '--yes']);
    expectRefused(r, '/v1/cluster/state', /field "nodes\.0\.id"/);
  });

  it('a looping next_cursor is detected: exit 1, no endless listing', async () => {
    await c.sim.setFaults({ cursorLoop: true });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expectRefused(r, '/v1/prgs', /field "next_cursor": cursor .* was already seen in this listing/);
    const listings = (await c.callsSince(t0)).filter((x) => x.path.startsWith('/v1/prgs?'));
    expect(listings.length).toBeLessThan(10);
  });

  it('a 50 MB body is refused by the size cap at its first answer, not retried', async () => {
    await c.sim.setFaults({ hugeBodyBytes: 50_000_000 });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expectRefused(r, '/v1/cluster/state', new RegExp(`response from GET .* is \\d+ bytes, over the ${MAX_BODY_BYTES}-byte cap`));
    const reads = (await c.callsSince(t0)).filter((x) => x.system === 'cp' && x.path === '/v1/cluster/state');
    expect(reads, 'one read of the state: the cap is a verdict, not a transient error').toHaveLength(1);
  });

  it('a negative count fails validation naming the field', async () => {
    await c.sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'prgs.ready', mode: 'set', value: -5 } });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expectRefused(r, '/v1/cluster/state', /field "prgs\.ready": .*>=0/);
  });

  it('more PRGs ready than exist (a ratio above 1) fails validation naming the field', async () => {
    await c.sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'prgs.ready', mode: 'set', value: 1_000_000 } });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expectRefused(r, '/v1/cluster/state', /field "prgs\.ready": 1000000 ready of \d+ total \(ratio > 1\)/);
  });

  it('an admin_url that is not http(s) (or carries credentials) is rejected', async () => {
    await c.sim.setFaults({ cpMalformed: { path: '/v1/cluster/state', field: 'nodes.1.admin_url', mode: 'set', value: 'file:///etc/passwd' } });
    t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expectRefused(r, '/v1/cluster/state', /field "nodes\.1\.admin_url": must be an http:\/\/ or https:\/\/ URL without credentials/);
  });

  describe('a redirect to another host', () => {
    let proxy: http.Server;
    let trap: http.Server;
    let trapHits = 0;
    let proxyUrl: string;
    let trapUrl: string;
    beforeAll(async () => {
      trap = http.createServer((_req, res) => {
        trapHits++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
      trapUrl = await listen(trap);
      // Forwards to the simulator's CP, except /v1/cluster/state: 307 to the trap (another port).
      proxy = http.createServer((req, res) => {
        if (req.url?.startsWith('/v1/cluster/state')) {
          res.writeHead(307, { location: `${trapUrl}${req.url}` }).end();
          return;
        }
        const chunks: Buffer[] = [];
        req.on('data', (b: Buffer) => chunks.push(b));
        req.on('end', () => {
          const body = chunks.length ? Buffer.concat(chunks) : undefined;
          fetch(`${c.sim.cpUrl}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body })
            .then(async (up) => {
              res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
              res.end(Buffer.from(await up.arrayBuffer()));
            })
            .catch(() => res.destroy());
        });
      });
      proxyUrl = await listen(proxy);
    });
    afterAll(async () => {
      await close(proxy);
      await close(trap);
    });

    it('is not followed: exit 1 naming the redirect, the other host never hears from us', async () => {
      const cfg = parse(readFileSync(c.config, 'utf8')) as Record<string, any>;
      cfg.control_plane.url = proxyUrl;
      const file = join(c.dir, 'redirect.yaml');
      writeFileSync(file, stringify(cfg));
      t0 = now();
      const r = await runCli(['restart', 'node-2', '--yes', '--config', file, '--json'], { cwd: c.dir });
      expectRefused(r, `${proxyUrl}/v1/cluster/state`, /answered a redirect \(307 to http:\/\/127\.0\.0\.1:\d+\/v1\/cluster\/state\); redirects are not followed/);
      expect(trapHits).toBe(0);
    });
  });
});

describe('hostile bodies and values at the client boundary', () => {
  let server: http.Server;
  let url: string;
  let written = 0;
  let aborted = false;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/stream') {
        // 50 MB, chunked (no Content-Length): the client must stop reading at the cap.
        written = 0;
        aborted = false;
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (written < 50_000_000) {
            if (res.destroyed) {
              aborted = true;
              return;
            }
            written += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.on('close', () => {
          if (written < 50_000_000) aborted = true;
        });
        pump();
        return;
      }
      if (req.url === '/readyz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ready: true,
            node_id: 'node-1',
            reasons: [],
            draining: false,
            cp_cache: { fresh: true, age_ms: 1, routing_epoch: 1 },
            prgs: { total: 10, ready: 10, replaying: 0, strict_fallback: 0 },
            replay: { progress: 1.5 },
            listeners: [],
          }),
        );
        return;
      }
      res.writeHead(404).end();
    });
    url = await listen(server);
  });
  afterAll(async () => close(server));

  it('a 50 MB chunked body without Content-Length is cut off at the cap, not buffered whole', async () => {
    // No deadline is under test: with a 1 s budget a loaded machine could time out reading up to the cap (an
    // HttpError, not the cap's ProtocolError). The cap is a verdict, never retried, so the budget only bounds the read.
    const client = new HttpClient({ baseUrl: url, system: 'control plane', configKey: 'control_plane', retryBudgetMs: 60_000, requestTimeoutMs: 60_000 });
    const err = await client.call('GET', '/stream', { schema: z.unknown() }).catch((e: unknown) => e);
    await client.close();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(new RegExp(`response from GET ${url}/stream exceeds the ${MAX_BODY_BYTES}-byte cap`));
    // The server learns of the closed connection on its own time: wait for that, then check how much it had sent.
    while (!aborted && written < 50_000_000) await new Promise((r) => setTimeout(r, 20));
    expect(aborted, 'the connection was closed before the whole body was sent').toBe(true);
    expect(written).toBeLessThan(50_000_000);
  });

  it('a replay progress above 1 from a node fails validation naming the URL and field', async () => {
    const node = new RuntimeClient('node-1', { baseUrl: url, retryBudgetMs: 1_000 });
    const err = await node.readyz().catch((e: unknown) => e);
    await node.http.close();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(new RegExp(`node node-1: invalid response from GET ${url}/readyz: field "replay\\.progress": .*<=1`));
  });

  it('values substituted into a command must look like ids: node-1;reboot and ../../x never reach argv', () => {
    for (const node of ['node-1;reboot', '../../x', '$(reboot)', '-oProxyCommand=x']) {
      expect(() => substitute(['ssh', '{node}', 'sudo', 'systemctl', 'restart', 'quantum'], { node }, { plain: ['node'], label: 'restart.command' })).toThrow(
        /refusing to substitute \{node\}.*nothing was run/,
      );
    }
    // A placeholder stays inside its own argument: no word splitting, no shell.
    expect(substitute(['curl', '{admin_url}/livez'], { admin_url: 'https://n1:9443' }, { plain: [] })).toEqual(['curl', 'https://n1:9443/livez']);
  });
});
