/**
 * The http LB adapter and the clients' setup: the adapter's connection pool is closed
 * with the adapter (its keep-alive socket to the LB API does not outlive the run), and
 * each client names the config key its settings come from, passed explicitly.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLbAdapter } from '../../src/adapters/lb/index.js';
import type { LbConfig } from '../../src/config/schema.js';
import { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { HttpClient } from '../../src/clients/http.js';
import { RuntimeClient } from '../../src/clients/runtime.js';
import { QrError } from '../../src/util/errors.js';

const deps = { log: pino({ level: 'silent' }), runtimeFor: () => { throw new Error('not used'); } };
/** The QrError a constructor throws. */
function errorOf(build: () => unknown): QrError {
  try {
    build();
  } catch (err) {
    expect(err).toBeInstanceOf(QrError);
    return err as QrError;
  }
  throw new Error('expected an error');
}

const target = { node: 'node-1', member: 'node-1', adminUrl: 'http://127.0.0.1:1' };

describe('http LB adapter', () => {
  let server: Server;
  let url: string;
  const sockets: Socket[] = [];
  beforeEach(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' });
      res.end(JSON.stringify({ member: 'node-1', address: '10.0.0.1:1883', admin_state: 'enabled', health: 'up', active_connections: 3 }));
    });
    server.on('connection', (s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    sockets.length = 0;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('close() closes the keep-alive connection it opened to the LB API', async () => {
    const lb = await createLbAdapter({ adapter: 'http', url, pool: 'mqtt' } as LbConfig, deps);
    expect(await lb.status(target)).toMatchObject({ adminState: 'enabled', health: 'up', activeConnections: 3 });
    expect(sockets).toHaveLength(1);
    const socket = sockets[0]!;
    expect(socket.destroyed).toBe(false);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    await lb.close();
    await closed;
    expect(socket.destroyed).toBe(true);
    // The adapter is done: a later call does not reopen a pool behind the caller's back.
    await expect(lb.status(target)).rejects.toThrow();
  });
});

describe('client setup names the config key it was given', () => {
  const env = { QR_T: 'secret-token-1234' };
  const remote = 'http://lb.example.invalid:8080';

  it('each client refuses to send its token over plain http, naming its own key', () => {
    const lb = errorOf(() => new HttpClient({ baseUrl: remote, system: 'LB', configKey: 'lb', access: { token_env: 'QR_T' }, env }));
    expect(lb.message).toBe(`LB: refusing to send the lb bearer token to ${remote} over plain http (use https://)`);
    const cp = errorOf(() => new ControlPlaneClient({ baseUrl: remote, access: { token_env: 'QR_T' }, env }));
    expect(cp.message).toContain('refusing to send the control_plane bearer token');
    const node = errorOf(() => new RuntimeClient('node-3', { baseUrl: remote, access: { token_env: 'QR_T' }, env }));
    expect(node.message).toMatch(/^node node-3: refusing to send the node_api bearer token/);
  });

  it('the key comes from the option, not from the system label', () => {
    // A label that once mapped to `control_plane` now says nothing about the key.
    const e = errorOf(() => new HttpClient({ baseUrl: remote, system: 'control plane', configKey: 'node_api', access: { ca_file: '/x.pem' } }));
    expect(e.message).toContain('node_api is configured for TLS');
  });
});
