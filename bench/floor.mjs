/**
 * B4's baselines: the least a command must read, read as plainly as Node can (undici
 * request on a keep-alive pool, JSON.parse; no validation, no planning, no output).
 *
 *   node bench/floor.mjs <cpUrl> <lbUrl> [plan|status|restart]
 *
 * - plan (default): the cluster state, every PRG page, and each node's /readyz, /v1/node
 *   and LB member (3 × nodes reads, 32 at a time): what `plan --all` cannot do without.
 * - status: the cluster state, every PRG page, and each node's /readyz, /v1/drain,
 *   /v1/node and LB member (4 × nodes).
 * - restart: what `restart --all` must read before its first change: the cluster state,
 *   every PRG page (to make the waves), each node's /readyz (the precheck's spare
 *   capacity), and for one node of wave 1 its PRGs (`?node=`), /v1/node, LB member and
 *   the PRGs it leads (`?leader=`, the leader transfer's own listing).
 * Exits 0 after reading everything.
 */
import process from 'node:process';
import { Agent, request } from 'undici';

const [cpUrl, lbUrl, mode = 'plan'] = process.argv.slice(2);
if (!['plan', 'status', 'restart'].includes(mode)) throw new Error(`unknown mode "${mode}" (plan, status or restart)`);
const dispatcher = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
const get = async (url) => {
  const r = await request(url, { dispatcher });
  if (r.statusCode !== 200 && r.statusCode !== 503) throw new Error(`${url}: ${r.statusCode}`);
  return JSON.parse(await r.body.text());
};

/** Every page of a PRG listing; returns the number of items. */
async function listing(query = '') {
  let n = 0;
  let cursor = null;
  do {
    const page = await get(`${cpUrl}/v1/prgs?limit=1000${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    n += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return n;
}

async function limited(jobs, n) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

const state = await get(`${cpUrl}/v1/cluster/state`);
const prgs = await listing();
const jobs = [];
for (const n of state.nodes) {
  if (mode === 'restart') jobs.push(() => get(`${n.admin_url}/readyz`));
  else jobs.push(() => get(`${n.admin_url}/readyz`), () => get(`${n.admin_url}/v1/node`), () => get(`${lbUrl}/v1/pools/mqtt/members/${n.id}`));
  if (mode === 'status') jobs.push(() => get(`${n.admin_url}/v1/drain`));
}
await limited(jobs, 32);
if (mode === 'restart') {
  const n = state.nodes[0];
  await listing(`&node=${encodeURIComponent(n.id)}`);
  await Promise.all([get(`${n.admin_url}/v1/node`), get(`${lbUrl}/v1/pools/mqtt/members/${n.id}`)]);
  await listing(`&leader=${encodeURIComponent(n.id)}`);
}
if (prgs === 0) throw new Error('no PRGs read');
await dispatcher.close();
