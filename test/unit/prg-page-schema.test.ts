// The PRG page check without zod per item (clients/schemas.ts prgPageSchema) must give
// exactly zod's verdict and first issue, and zod's data as the tool keeps it (slimPrg);
// a listing must still name the field and the page of a malformed PRG.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '../../src/clients/control-plane.js';
import { isCleanPrgPage, prgPageSchema, prgPageZodSchema, slimPrg } from '../../src/clients/schemas.js';
import { ProtocolError } from '../../src/util/errors.js';

function page(n = 5, cursor: string | null = 'c2'): any {
  return {
    items: Array.from({ length: n }, (_, i) => ({
      id: `prg-${i + 1}`,
      tenant: i % 2 ? 'acme' : 'hooli',
      leader: i === 3 ? null : `node-${i + 1}`,
      strict_fallback: i === 2,
      commit_index: 1000 + i,
      replicas: [
        { node: `node-${i + 1}`, role: 'voter', state: 'healthy', match_index: 1000 + i },
        { node: `node-${i + 2}`, role: 'voter', state: i === 1 ? 'lagging' : 'healthy', match_index: 990 },
        { node: `node-${i + 3}`, role: 'learner', state: 'replaying', match_index: 0 },
      ],
    })),
    next_cursor: cursor,
  };
}

/** Every way of breaking (or oddly shaping) a page the two checks must agree on. */
const variants: Array<[string, (p: any) => void]> = [
  ['valid', () => {}],
  ['last page', (p) => (p.next_cursor = null)],
  ['empty page', (p) => (p.items = [])],
  ['no replicas', (p) => (p.items[0].replicas = [])],
  ['next_cursor missing', (p) => delete p.next_cursor],
  ['next_cursor a number', (p) => (p.next_cursor = 7)],
  ['items not an array', (p) => (p.items = { 0: p.items[0] })],
  ['items null', (p) => (p.items = null)],
  ['a PRG is null', (p) => (p.items[2] = null)],
  ['a PRG is an array', (p) => (p.items[2] = [])],
  ['id missing', (p) => delete p.items[3].id],
  ['id a number', (p) => (p.items[3].id = 3)],
  ['id not of the pattern', (p) => (p.items[3].id = 'PRG 3')],
  ['id too long', (p) => (p.items[3].id = `p${'x'.repeat(63)}`)],
  ['tenant a number', (p) => (p.items[1].tenant = 1)],
  ['leader undefined', (p) => delete p.items[1].leader],
  ['leader not an id', (p) => (p.items[1].leader = '../x')],
  ['strict_fallback a string', (p) => (p.items[4].strict_fallback = 'false')],
  ['commit_index negative', (p) => (p.items[4].commit_index = -1)],
  ['commit_index fractional', (p) => (p.items[4].commit_index = 1.5)],
  ['commit_index beyond safe integers', (p) => (p.items[4].commit_index = 2 ** 60)],
  ['commit_index a string', (p) => (p.items[4].commit_index = '12')],
  ['replicas null', (p) => (p.items[0].replicas = null)],
  ['replica null', (p) => (p.items[0].replicas[1] = null)],
  ['replica node bad', (p) => (p.items[0].replicas[1].node = 'Node_2')],
  ['replica role missing', (p) => delete p.items[0].replicas[1].role],
  ['replica state unknown', (p) => (p.items[4].replicas[2].state = 'bogus')],
  ['replica match_index negative', (p) => (p.items[4].replicas[2].match_index = -3)],
  ['unknown field on the page', (p) => (p.extra = 1)],
  ['unknown field on a PRG', (p) => (p.items[2].zone = 'z1')],
  ['unknown field on a replica', (p) => (p.items[2].replicas[0].lag_ms = 5)],
  ['fields in another order', (p) => (p.items[1] = { replicas: p.items[1].replicas, id: p.items[1].id, tenant: 'acme', leader: null, strict_fallback: false, commit_index: 1 })],
  ['two errors: the first is reported', (p) => ((p.items[1].tenant = 5), (p.items[3].replicas[0].state = 'x'))],
];

describe('prgPageSchema (no zod per item)', () => {
  it.each(variants)('%s: same verdict, data and first issue as zod', (_name, change) => {
    const p = page();
    change(p);
    const ours = prgPageSchema.safeParse(structuredClone(p));
    const zod = prgPageZodSchema.safeParse(structuredClone(p));
    expect(ours.success).toBe(zod.success);
    if (ours.success && zod.success) {
      const kept = { items: zod.data.items.map(slimPrg), next_cursor: zod.data.next_cursor };
      expect(ours.data).toEqual(kept);
      // same keys in the same order: unknown fields stripped as zod strips them
      expect(JSON.stringify(ours.data)).toBe(JSON.stringify(kept));
    } else {
      const a = ours.error!.issues[0]!;
      const b = zod.error!.issues[0]!;
      expect(a.path).toEqual(b.path);
      expect(a.message).toBe(b.message);
    }
  });

  it('keeps what the tool reads of a PRG, one shared frozen object per distinct replica, whatever else a CP serves', () => {
    const p = page();
    expect(isCleanPrgPage(p)).toBe(true);
    const r = prgPageSchema.parse(p);
    const first = r.items[0]!;
    expect(Object.keys(first)).toEqual(['id', 'leader', 'strict_fallback', 'replicas']);
    expect(first).toEqual({ id: 'prg-1', leader: 'node-1', strict_fallback: false, replicas: [
      { node: 'node-1', role: 'voter', state: 'healthy' },
      { node: 'node-2', role: 'voter', state: 'healthy' },
      { node: 'node-3', role: 'learner', state: 'replaying' },
    ] });
    // prg-1's second replica and prg-2's first are both node-2/voter/healthy: one object
    expect(r.items[1]!.replicas[0]).toBe(first.replicas[1]);
    expect(Object.isFrozen(first.replicas[1])).toBe(true);
    // the same node in another state is another object
    const lagging = page();
    lagging.items[0].replicas[1].state = 'lagging';
    const l = prgPageSchema.parse(lagging).items[0]!.replicas[1]!;
    expect(l).toEqual({ node: 'node-2', role: 'voter', state: 'lagging' });
    expect(l).not.toBe(first.replicas[1]);
    // Fields a CP adds, in any order, are neither copied nor kept (no zod copy of the page either).
    const extra = page();
    extra.items[0].zone = 'z';
    extra.items[0].replicas[0].lag_ms = 5;
    extra.items[1] = { replicas: extra.items[1].replicas, labels: { a: 'b' }, ...extra.items[1] };
    extra.server_time = 'now';
    expect(isCleanPrgPage(extra)).toBe(true);
    const z = prgPageSchema.parse(extra);
    expect(Object.keys(z.items[0]!)).toEqual(['id', 'leader', 'strict_fallback', 'replicas']);
    expect(Object.keys(z.items[1]!)).toEqual(['id', 'leader', 'strict_fallback', 'replicas']);
    expect(z.items[0]!.replicas[0]).toBe(first.replicas[0]);
    expect(z.items[1]!.replicas[0]).toBe(first.replicas[1]);
    // A field missing or of the wrong type still goes to zod, which names it.
    const bad = page();
    delete bad.items[1].commit_index;
    expect(isCleanPrgPage(bad)).toBe(false);
  });
});

describe('listPrgs: a malformed PRG on a later page', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** A CP that serves `pages` as one listing: the first without a cursor, then cursors p2 and p3. */
  async function serve(pages: unknown[]): Promise<ControlPlaneClient> {
    server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const i = u.searchParams.get('cursor') === 'p2' ? 1 : u.searchParams.get('cursor') === 'p3' ? 2 : 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(pages[i]));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return new ControlPlaneClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, access: {} });
  }

  it('names the field, the position of the PRG and the page it came on (a ProtocolError)', async () => {
    const pages = [page(1000, 'p2'), page(1000, 'p3'), page(1000, null)];
    pages[2].items[417].replicas[2].state = 'gone';
    const cp = await serve(pages);
    try {
      const err = await cp.listPrgs().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProtocolError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/^control plane: invalid response from GET http:\/\/127\.0\.0\.1:\d+\/v1\/prgs\?limit=1000&cursor=p3: field "items\.417\.replicas\.2\.state": Invalid option: expected one of/);
      expect((err as ProtocolError).details.evidence).toMatchObject({ field: 'items.417.replicas.2.state' });
    } finally {
      await cp.http.close();
    }
  });

  it('reads every PRG of a clean listing, in order', async () => {
    const pages = [page(1000, 'p2'), page(1000, 'p3'), page(7, null)];
    const cp = await serve(pages);
    try {
      const all = await cp.listPrgs();
      expect(all).toEqual([...pages[0].items, ...pages[1].items, ...pages[2].items].map(slimPrg));
    } finally {
      await cp.http.close();
    }
  });
});
