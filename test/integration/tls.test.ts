/**
 * TLS and mTLS with real handshakes: the simulator serves the CP, the LB and every node
 * admin API over HTTPS with a private CA (`sim --mtls`), and the built CLI talks to it
 * with the generated config. Then each way it can go wrong: the wrong CA, a certificate
 * for another host name, an expired certificate, no client certificate, plain http
 * where the config says https (and https to a plain-http port), and
 * `insecure_skip_verify` (works, warns on every run).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createCa, issueCert, type CertPair } from '../../src/sim/index.js';
import { changing, now, runCli, startCluster, type CliResult, type TestCluster } from '../support/cli.js';

type Cfg = Record<string, any>;

/** Runs the CLI with a modified copy of the cluster's config (the original stays as generated). */
async function withCfg(c: TestCluster, name: string, change: (cfg: Cfg) => void, args: string[], env?: Record<string, string>): Promise<CliResult> {
  const cfg = parse(readFileSync(c.config, 'utf8')) as Cfg;
  change(cfg);
  const file = join(c.dir, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  return runCli([...args, '--config', file, '--json'], { cwd: c.dir, env });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** An HTTPS server presenting `pair` (counts requests that got through the handshake). */
async function httpsServer(pair: CertPair): Promise<{ server: https.Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (_req, res) => {
    hits++;
    res.writeHead(404).end();
  });
  const port = await listen(server);
  return { server, url: `https://127.0.0.1:${port}`, hits: () => hits };
}

function expectTlsFailure(r: CliResult, endpoint: string, check: RegExp): string {
  expect(r.code, `${r.stdout}\n${r.stderr.slice(-1500)}`).toBe(1);
  const doc = r.json as any;
  expect(doc.ok).toBe(false);
  const msg: string = doc.error.message;
  expect(msg).toContain(endpoint);
  expect(msg).toMatch(/TLS failure/);
  expect(msg).toMatch(check);
  return msg;
}

describe('TLS: the simulator with --mtls and the CLI', () => {
  let c: TestCluster;
  let extra: string;
  let simCa: CertPair;
  let otherCa: CertPair;
  const servers: http.Server[] = [];

  beforeAll(async () => {
    c = await startCluster({ mtls: true });
    extra = mkdtempSync(join(tmpdir(), 'qr-tls-'));
    simCa = { cert: c.sim.tls!.ca, key: join(c.sim.tls!.dir, 'ca.key') };
    otherCa = createCa(extra, 'other-ca', 'some other CA');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => close(s)));
    await c?.stop();
  });

  it('sim --mtls writes a private CA, server and client certificates, and a config that uses them for every system', () => {
    const t = c.sim.tls!;
    expect(t.mtls).toBe(true);
    const ca = new X509Certificate(readFileSync(t.ca));
    const server = new X509Certificate(readFileSync(t.serverCert));
    const client = new X509Certificate(readFileSync(t.clientCert));
    expect(ca.ca).toBe(true);
    expect(server.checkIssued(ca) && client.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey) && client.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(server.subjectAltName).toContain('DNS:localhost');
    for (const key of [t.serverKey, t.clientKey, join(t.dir, 'ca.key')]) expect(statSync(key).mode & 0o777).toBe(0o600);

    const cfg = parse(readFileSync(c.config, 'utf8')) as Cfg;
    expect(cfg.control_plane.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cfg.lb.url).toMatch(/^https:/);
    for (const sys of [cfg.control_plane, cfg.node_api, cfg.lb]) {
      expect(sys).toMatchObject({ ca_file: t.ca, cert_file: t.clientCert, key_file: t.clientKey });
    }
    expect(c.sim.nodes.every((n) => n.adminUrl.startsWith('https://127.0.0.1:'))).toBe(true);
  });

  it('a full restart over mTLS: CP, node admin APIs and LB verified against the private CA, client certificate presented', async () => {
    const t0 = now();
    const r = await c.cli(['restart', 'node-2', '--yes']);
    expect(r.code, `${r.stdout}\n${r.stderr.slice(-2000)}`).toBe(0);
    expect((r.json as any).ok).toBe(true);
    const calls = await c.callsSince(t0);
    const systems = new Set(changing(calls).map((x) => x.system));
    expect([...systems].sort()).toEqual(['cp', 'lb', 'node']);
    expect((await c.sim.stats()).restarts['node-2']).toBe(1);
  });

  it('wrong CA for the control plane: exit 1, names the endpoint and "unknown CA", nothing sent', async () => {
    const t0 = now();
    const r = await withCfg(c, 'wrong-ca', (cfg) => (cfg.control_plane.ca_file = otherCa.cert), ['restart', 'node-1', '--yes']);
    const msg = expectTlsFailure(r, c.sim.cpUrl, /unknown CA/);
    expect(msg).toMatch(/control plane/);
    expect(msg).toMatch(/control_plane\.ca_file/);
    expect(await c.callsSince(t0)).toEqual([]);
  });

  it('wrong CA for the node admin APIs only (each system stands alone): exit 1 at the precheck, names the node, nothing changed', async () => {
    const t0 = now();
    const r = await withCfg(c, 'wrong-node-ca', (cfg) => (cfg.node_api.ca_file = otherCa.cert), ['restart', 'node-1', '--yes']);
    expect(r.code, r.stdout).toBe(1);
    const msg: string = (r.json as any).error.message;
    expect(msg).toMatch(/node node-1: TLS failure for https:\/\/127\.0\.0\.1:\d+: unknown CA/);
    expect(msg).toMatch(/node_api\.ca_file/);
    const calls = await c.callsSince(t0);
    expect(calls.length).toBeGreaterThan(0); // the CP (right CA) was read
    expect(changing(calls)).toEqual([]);
  });

  it('missing client certificate under mTLS: exit 1, names the endpoint and "client certificate required"', async () => {
    const t0 = now();
    const r = await withCfg(
      c,
      'no-client-cert',
      (cfg) => {
        delete cfg.control_plane.cert_file;
        delete cfg.control_plane.key_file;
      },
      ['status'],
    );
    const msg = expectTlsFailure(r, c.sim.cpUrl, /client certificate required/);
    expect(msg).toMatch(/set control_plane\.cert_file and control_plane\.key_file/);
    expect(await c.callsSince(t0)).toEqual([]);
  });

  it('missing client certificate for the LB only: the restart stops before any change, naming the LB', async () => {
    const t0 = now();
    const r = await withCfg(
      c,
      'no-lb-cert',
      (cfg) => {
        delete cfg.lb.cert_file;
        delete cfg.lb.key_file;
      },
      ['restart', 'node-1', '--yes'],
    );
    expect(r.code, r.stdout).toBe(1);
    const msg: string = (r.json as any).error.message;
    expect(msg).toMatch(/precheck of node-1 failed: LB: TLS failure/);
    expect(msg).toContain(c.sim.lbUrl);
    expect(msg).toMatch(/client certificate required: .*; set lb\.cert_file and lb\.key_file/);
    expect(changing(await c.callsSince(t0)).filter((x) => !x.path.startsWith('/v1/leases'))).toEqual([]);
  });

  it('a server certificate for another host name: exit 1, "name mismatch" naming the host', async () => {
    const pair = issueCert(simCa, extra, 'wrong-name', { cn: 'wrong.example', sans: ['wrong.example'], usage: 'server' });
    const s = await httpsServer(pair);
    servers.push(s.server);
    const r = await withCfg(c, 'wrong-name', (cfg) => (cfg.control_plane.url = s.url), ['status']);
    const msg = expectTlsFailure(r, s.url, /name mismatch/);
    expect(msg).toMatch(/127\.0\.0\.1/);
    expect(msg).toMatch(/wrong\.example/);
    expect(s.hits()).toBe(0);
  });

  it('an expired server certificate: exit 1, "expired"', async () => {
    const pair = issueCert(simCa, extra, 'expired', { cn: 'localhost', sans: ['127.0.0.1'], usage: 'server', days: 0 });
    await new Promise((r) => setTimeout(r, 1_100));
    const s = await httpsServer(pair);
    servers.push(s.server);
    const r = await withCfg(c, 'expired', (cfg) => (cfg.control_plane.url = s.url), ['status']);
    expectTlsFailure(r, s.url, /expired: the server certificate has expired/);
    expect(s.hits()).toBe(0);
  });

  it('plain http:// where the config has TLS settings is a config error (exit 2) naming the key', async () => {
    const url = c.sim.cpUrl.replace('https:', 'http:');
    const r = await withCfg(c, 'http-with-ca', (cfg) => (cfg.control_plane.url = url), ['status']);
    expect(r.code, r.stdout).toBe(2);
    expect((r.json as any).error.message).toMatch(/control_plane\.url: TLS settings .* are set but http:\/\/127\.0\.0\.1:\d+ is plain http; use https:\/\//);
  });

  it('http:// to a TLS port without TLS settings: exit 1, "speaks TLS … use https://" (not an endless retry)', async () => {
    const url = c.sim.cpUrl.replace('https:', 'http:');
    const r = await withCfg(
      c,
      'http-to-tls',
      (cfg) => {
        // A 30 s retry budget: a TLS diagnosis, not a timeout, shows the answer was recognised, not retried away.
        cfg.control_plane = { url, request_timeout: '30s' };
      },
      ['status'],
    );
    expect(r.code, r.stdout).toBe(1);
    expect((r.json as any).error.message).toMatch(/speaks TLS but the URL is http:\/\/ \(use https:\/\/\)/);
    expect((r.json as any).error.message, 'the answer was recognised, not retried until the budget ran out').not.toMatch(/timed out|unreachable|retr/);
  });

  it('insecure_skip_verify: works without the CA, and warns loudly on stderr on every run', async () => {
    for (let run = 0; run < 2; run++) {
      const r = await withCfg(
        c,
        'insecure',
        (cfg) => {
          delete cfg.control_plane.ca_file;
          cfg.control_plane.insecure_skip_verify = true;
        },
        ['status', '--log-level', 'error'],
      );
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l.includes('verification is DISABLED'));
      expect(warnings, `run ${run + 1}`).toHaveLength(1);
      expect(warnings[0]).toMatch(/control_plane \(insecure_skip_verify: true/);
      expect(warnings[0]).toContain(c.sim.cpUrl);
    }
  });
});

describe('TLS: plain-HTTP endpoints where the config says https', () => {
  let p: TestCluster;
  let caFile: string;
  beforeAll(async () => {
    p = await startCluster({ nodes: 3, racks: 3, prgs: 30, virtualNodes: true });
    const dir = mkdtempSync(join(tmpdir(), 'qr-tls-plain-'));
    caFile = createCa(dir, 'ca').cert;
  });
  afterAll(async () => p?.stop());

  it('node_api has TLS settings but the CP reports http:// admin URLs: refused (no downgrade), exit 1, nothing changed', async () => {
    const t0 = now();
    const r = await withCfg(p, 'node-tls', (cfg) => (cfg.node_api = { ca_file: caFile }), ['restart', 'node-2', '--yes']);
    expect(r.code, r.stdout).toBe(1);
    expect((r.json as any).error.message).toMatch(
      /node node-2: refusing plain http to http:\/\/127\.0\.0\.1:\d+\/n\/node-2: node_api is configured for TLS .* must be https:\/\//,
    );
    expect(changing(await p.callsSince(t0))).toEqual([]);
  });

  it('https:// to a plain-HTTP port: exit 1, "does not speak TLS"', async () => {
    const url = p.sim.cpUrl.replace('http:', 'https:');
    const r = await withCfg(p, 'https-to-plain', (cfg) => (cfg.control_plane = { url, ca_file: caFile }), ['status']);
    expectTlsFailure(r, url, /does not speak TLS/);
  });
});
