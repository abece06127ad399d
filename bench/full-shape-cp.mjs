/**
 * B4's second control plane: one the project did not write, serving the contract's
 * PRG shape as another implementation would (bench-side; not the simulator). Forked by
 * bench/b4-size.mjs with the simulator's CP URL; answers on its own port:
 *
 * - `GET /v1/prgs`: the simulator's listing re-served 500 per page whatever `limit` asks
 *   (the contract's default; a client follows `next_cursor`), every field of apis.md's
 *   PRG filled (tenant, leader, strict_fallback, commit_index, match_index on each
 *   replica), keys in alphabetical order (as a map serialiser writes them), and fields a
 *   CP may add ("servers may add fields"): a term, voter count, config index, update
 *   time and labels on each PRG, last contact and lag on each replica.
 * - everything else: passed through to the simulator as it is (method, path, headers,
 *   body), so its record of calls stays the one the bench reads.
 *
 * Sends {port} over IPC when listening.
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import process from 'node:process';

const [simCp] = process.argv.slice(2);
const upstream = new URL(simCp);
const PAGE = 500;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function forward(req, body, path) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: { ...req.headers, host: upstream.host }, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

const sorted = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));

function fullPrg(p, i) {
  return sorted({
    ...p,
    tenant: `${p.tenant}.tenants.example.com`,
    term: 7 + (i % 5),
    voters: p.replicas.length,
    config_index: p.commit_index - (i % 97),
    updated_at: '2026-12-07T10:00:00.000Z',
    labels: { region: 'eu-west-1', tier: i % 3 ? 'standard' : 'premium' },
    replicas: p.replicas.map((r, j) => sorted({ ...r, last_contact_ms: 5 + ((i + j) % 40), lag: p.commit_index - r.match_index })),
  });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const url = new URL(req.url, 'http://x');
      if (req.method === 'GET' && url.pathname === '/v1/prgs') {
        url.searchParams.set('limit', String(PAGE));
        const up = await forward(req, body, url.pathname + url.search);
        if (up.status !== 200) {
          res.writeHead(up.status, { 'content-type': 'application/json' }).end(up.body);
          return;
        }
        const page = JSON.parse(up.body.toString('utf8'));
        const out = JSON.stringify(sorted({ items: page.items.map(fullPrg), next_cursor: page.next_cursor, total_estimate: page.items.length }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
        return;
      }
      const up = await forward(req, body, req.url);
      const headers = { ...up.headers };
      delete headers['transfer-encoding'];
      delete headers.connection;
      res.writeHead(up.status, { ...headers, 'content-length': up.body.length }).end(up.body);
    } catch (err) {
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'bad_gateway', message: String(err) } }));
    }
  });
});
server.keepAliveTimeout = 10_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
