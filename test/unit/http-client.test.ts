/**
 * clients/http.ts against a real local HTTP server: the URL a call sends (as `url()` builds
 * it), the request timeout (shared timers), the caller's abort, a status that is an answer,
 * and many requests in flight at once on one pool.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createDispatcher } from '../../src/clients/dispatcher.js';
import { HttpClient } from '../../src/clients/http.js';
import { HttpError } from '../../src/util/errors.js';

let server: http.Server;
let base: string;
/** The request lines the server received, in order. */
const seen: string[] = [];
/** Requests to /hang are held here (never answered unless released). */
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url?.startsWith('/hang')) return void held.push(res);
      const json = JSON.stringify({ url: req.url, body: body ? JSON.parse(body) : null, id: req.headers['x-request-id'] ?? null });
      const status = req.url?.startsWith('/busy') ? 503 : 200;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const echo = z.object({ url: z.string(), body: z.unknown(), id: z.string().nullable() });
const client = (o: { baseUrl?: string; requestTimeoutMs?: number } = {}) =>
  new HttpClient({ baseUrl: o.baseUrl ?? base, system: 'control plane', configKey: 'control_plane', requestTimeoutMs: o.requestTimeoutMs ?? 5_000, retryBudgetMs: 5_000 });

describe('HttpClient', () => {
  it('sends the path and query exactly as url() spells them, under a base URL with a path, and the body as JSON', async () => {
    const c = client({ baseUrl: `${base}/api/` });
    const query = { leader: 'node-1', cursor: 'a b+c/=&d', limit: 1000, node: undefined };
    const r = await c.call('POST', '/v1/prgs/prg-0001/leader-transfer', { schema: echo, query, body: { exclude: ['node-1'] }, retry: false });
    const expected = new URL(c.url('/v1/prgs/prg-0001/leader-transfer', query));
    expect(r.status).toBe(200);
    expect(r.data.url).toBe(`${expected.pathname}${expected.search}`);
    expect(r.data.url).toBe('/api/v1/prgs/prg-0001/leader-transfer?leader=node-1&cursor=a+b%2Bc%2F%3D%26d&limit=1000');
    expect(r.data.body).toEqual({ exclude: ['node-1'] });
    // A path `new URL()` would rewrite goes through it: what reaches the server is what url() says.
    const odd = await c.call('GET', '/v1/x/../y z', { schema: echo, retry: false });
    expect(odd.data.url).toBe(new URL(c.url('/v1/x/../y z')).pathname);
    await c.close();
  });

  it('every request carries its own request id, also with many in flight on one pool', async () => {
    const c = client();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => c.call('GET', `/n/${i}`, { schema: echo, retry: false })));
    expect(answers.map((a) => a.data.url)).toEqual(Array.from({ length: 300 }, (_, i) => `/n/${i}`));
    expect(new Set(answers.map((a) => a.data.id)).size).toBe(300);
    await c.close();
  });

  it('a request the server never answers ends at its timeout as a timed-out HttpError naming the endpoint; so do all those sharing it', async () => {
    const pool = createDispatcher();
    const c = new HttpClient({ baseUrl: base, system: 'control plane', configKey: 'control_plane', requestTimeoutMs: 200, retryBudgetMs: 5_000, dispatcher: pool });
    const errs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('GET', `/hang/${i}`, { schema: echo, retry: false }).catch((e: unknown) => e)));
    for (const [i, err] of errs.entries()) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).message).toBe(`control plane: GET ${base}/hang/${i} timed out`);
      expect((err as HttpError).status).toBeUndefined();
    }
    // The pool still serves after the timed-out requests gave their connections up: asked by a
    // client on the same pool whose timeout leaves room for a loaded machine (200 ms did not).
    const patient = new HttpClient({ baseUrl: base, system: 'control plane', configKey: 'control_plane', requestTimeoutMs: 60_000, retryBudgetMs: 60_000, dispatcher: pool });
    expect((await patient.call('GET', '/after', { schema: echo, retry: false })).data.url).toBe('/after');
    await pool.close();
  });

  it("the caller's abort ends a request at once with the caller's reason", async () => {
    const c = client({ requestTimeoutMs: 60_000 });
    const ac = new AbortController();
    const before = held.length;
    const pending = c.call('GET', '/hang/abort', { schema: echo, signal: ac.signal }).catch((e: unknown) => e);
    // Abort once the server holds the request: the moment is certain, not slept for.
    while (held.length === before) await new Promise((r) => setImmediate(r));
    ac.abort(new Error('stop requested'));
    const err = await pending;
    expect((err as Error).message).toBe('stop requested');
    await c.close();
  });

  it('a 503 is retried until the deadline, then names the status; a listed status is an answer', async () => {
    const c = client();
    const n = seen.length;
    const err = await c.call('GET', '/busy', { schema: echo, deadline: Date.now() + 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(503);
    expect((err as HttpError).message).toMatch(new RegExp(`^control plane: GET ${base}/busy answered 503`));
    expect(seen.slice(n).filter((l) => l === 'GET /busy').length).toBeGreaterThan(1);
    const answer = await c.call('GET', '/busy/verdict', { schema: echo, answerStatuses: [503], retry: false });
    expect(answer).toMatchObject({ status: 503, data: { url: '/busy/verdict' } });
    await c.close();
  });

  it('a changing request is not retried unless its call says so (retry-policy.ts); a GET is', async () => {
    const c = client();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const n = seen.length;
      const err = await c.call(method, '/busy/change', { schema: echo, body: method === 'DELETE' ? undefined : {}, deadline: Date.now() + 300 }).catch((e: unknown) => e);
      expect((err as HttpError).status).toBe(503);
      expect(seen.slice(n), `${method}: sent once`).toEqual([`${method} /busy/change`]);
    }
    const n = seen.length;
    await c.call('POST', '/busy/change', { schema: echo, body: {}, deadline: Date.now() + 300, retry: true }).catch(() => undefined);
    expect(seen.slice(n).length, 'retry: true (the table says safe) retries').toBeGreaterThan(1);
    await c.close();
  });
});

describe('retry policy of changing calls', () => {
  it('every POST/PUT/DELETE of the clients and LB adapters takes its retry from the table, and every entry says why', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { CHANGING_CALLS } = await import('../../src/clients/retry-policy.js');
    const root = join(import.meta.dirname, '../../src');
    const files = [...readdirSync(join(root, 'clients')).map((f) => join(root, 'clients', f)), ...readdirSync(join(root, 'adapters/lb')).map((f) => join(root, 'adapters/lb', f))].filter((f) => f.endsWith('.ts'));
    let sites = 0;
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      for (const m of src.matchAll(/\.call\('(POST|PUT|DELETE)'/g)) {
        sites++;
        // The call's options, up to the closing of the call: they must name an entry of the table.
        const rest = src.slice(m.index, src.indexOf('})', m.index) + 2);
        const named = /retryOf\('([^']+)'/.exec(rest)?.[1];
        expect(named, `${f}: ${m[1]} call without retryOf(...)`).toBeDefined();
        expect(Object.keys(CHANGING_CALLS)).toContain(named);
        expect(named!.startsWith(`${m[1]} `), `${f}: ${named} on a ${m[1]}`).toBe(true);
      }
    }
    expect(sites).toBeGreaterThanOrEqual(Object.keys(CHANGING_CALLS).length);
    for (const [call, p] of Object.entries(CHANGING_CALLS)) expect(p.why.length, call).toBeGreaterThan(10);
    expect(CHANGING_CALLS['POST /v1/leader-transfers'].retry, 'a second batch POST starts a second batch').toBe(false);
  });
});
