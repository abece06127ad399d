/**
 * `status` of a large cluster from a slow CP: the PRG listing is read page by page, and
 * each page has the CP's request timeout from when it is asked for (commands/status.ts).
 * A listing that progresses succeeds however long it takes in all (it used to share one
 * 10 s deadline: 100,000 PRGs on a loaded host timed out); one page that does not answer
 * in time fails it, naming the call. The simulator's `park` fault holds each page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, startCluster, toResult, type TestCluster } from '../support/cli.js';
import { type ParkRule, parkAt, unpark } from '../support/park.js';

const PAGE = 1000; // the page size status asks for
const PAGES = 8;
const prgPages: ParkRule = { system: 'cp', method: 'GET', pattern: '^/v1/prgs\\?' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('status: a slow PRG listing', { timeout: 180_000 }, () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await startCluster({ nodes: 5, racks: 3, prgs: PAGE * PAGES });
    await c.patchConfig((cfg) => {
      cfg.control_plane = { ...cfg.control_plane, request_timeout: '3s' };
    });
  });
  afterAll(async () => {
    if (c) await unpark(c);
    await c?.stop();
  });

  it('succeeds while every page answers within the request timeout, though the listing takes longer than 10 s in all', async () => {
    const proc = spawnCli(['status', '--json', '--config', c.config], { cwd: c.dir });
    // Each page is held 1.5 s (half the request timeout): 8 pages, 12 s in all. Setting the
    // knob again lets go of the page held and parks the next one.
    for (let i = 0; i < PAGES; i++) {
      await parkAt(c, { ...prgPages }, proc);
      await sleep(1_500);
    }
    await unpark(c);
    const r = toResult(await proc.catch((e: unknown) => e as never));
    expect(r.code, r.stderr).toBe(0);
    expect((r.json as any).prgs).toMatchObject({ total: PAGE * PAGES });
  });

  it('fails when one page is not answered within the request timeout, naming the call', async () => {
    const proc = spawnCli(['status', '--json', '--config', c.config], { cwd: c.dir });
    await parkAt(c, { ...prgPages }, proc); // the first page: let it go
    await parkAt(c, { ...prgPages }, proc); // the second: held past the 3 s timeout
    const r = toResult(await proc.catch((e: unknown) => e as never));
    await unpark(c);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/GET \S*\/v1\/prgs\?\S* timed out/);
  });
});
