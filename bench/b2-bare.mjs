/**
 * B2's baseline, a whole process: the least a client must do to move every PRG
 * leadership off a node against a CP without the batch endpoint, written as plainly as
 * Node allows (undici's request on one keep-alive pool, JSON.parse, no validation, no
 * logging, no lease). It reads the PRGs the node leads, keeps exactly `concurrency`
 * transfers in flight (it is told the CP's limit; a 503 is sent again at once), then
 * lists until the node leads none.
 *   node bench/b2-bare.mjs <cpUrl> <node> <concurrency>
 * Exits 0 when the CP shows the node leading no PRG; prints the count moved.
 */
import process from 'node:process';
import { setTimeout } from 'node:timers/promises';
import { Agent, request } from 'undici';

const [cpUrl, node, n] = process.argv.slice(2);
const concurrency = Number(n);
const dispatcher = new Agent({ connections: 128, keepAliveTimeout: 10_000 });

async function led() {
  const ids = [];
  let cursor = null;
  do {
    const r = await request(`${cpUrl}/v1/prgs?leader=${node}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { dispatcher });
    if (r.statusCode !== 200) throw new Error(`GET /v1/prgs: ${r.statusCode}`);
    const page = await r.body.json();
    for (const p of page.items) ids.push(p.id);
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

const ids = await led();
const body = JSON.stringify({ exclude: [node] });
let next = 0;
let retried = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      for (;;) {
        const r = await request(`${cpUrl}/v1/prgs/${id}/leader-transfer`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body });
        await r.body.dump();
        if (r.statusCode === 503) {
          retried++;
          continue;
        }
        if (r.statusCode < 200 || r.statusCode >= 300) throw new Error(`POST /v1/prgs/${id}/leader-transfer: ${r.statusCode}`);
        break;
      }
    }
  }),
);
while ((await led()).length > 0) await setTimeout(5);
await dispatcher.close();
process.stdout.write(`${JSON.stringify({ moved: ids.length, retried_503: retried })}\n`);
