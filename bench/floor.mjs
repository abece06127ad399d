/**
 * B4's baseline: the least a plan of the whole cluster must read, read as plainly as
 * Node can (undici request on a keep-alive pool, JSON.parse; no validation, no
 * planning, no output). Usage: node bench/floor.mjs <cpUrl> <lbUrl>. Exits 0 after
 * reading everything.
 */
import process from 'node:process';
import { Agent, request } from 'undici';

const [cpUrl, lbUrl] = process.argv.slice(2);
const dispatcher = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
const get = async (url) => {
  const r = await request(url, { dispatcher });
  if (r.statusCode !== 200 && r.statusCode !== 503) throw new Error(`${url}: ${r.statusCode}`);
  return JSON.parse(await r.body.text());
};

const state = await get(`${cpUrl}/v1/cluster/state`);
let prgs = 0;
let cursor = null;
do {
  const page = await get(`${cpUrl}/v1/prgs?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  prgs += page.items.length;
  cursor = page.next_cursor;
} while (cursor);

const jobs = [];
for (const n of state.nodes) {
  jobs.push(() => get(`${n.admin_url}/readyz`), () => get(`${n.admin_url}/v1/node`), () => get(`${lbUrl}/v1/pools/mqtt/members/${n.id}`));
}
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }),
);
if (prgs === 0) throw new Error('no PRGs read');
await dispatcher.close();
